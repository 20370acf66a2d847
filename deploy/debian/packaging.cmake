# Debian packages built with CPack (`cpack` in the build directory):
#   approval-broker      the broker and approvalctl (/usr/bin), the systemd
#                        unit (/lib/systemd/system), a default config and the
#                        example policy (/etc/approval-broker, conffiles), a
#                        postinst that creates the system user. Migrations are
#                        embedded in the broker.
#   approval-client-dev  libapproval_client.so*, its headers and CMake
#                        package files (client_lib/CMakeLists.txt).
# Runtime dependencies come from dpkg-shlibdeps (dpkg-dev).
# tests/deploy/package_test.sh builds, inspects, installs and runs them.
set(_deb_dir ${CMAKE_CURRENT_LIST_DIR})
set(_etc /etc/approval-broker)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

# The unit as installed: ExecStart at the packaged binary, and without the
# manual-install notes at the top of deploy/approval-broker.service.
set(_unit_src ${PROJECT_SOURCE_DIR}/deploy/approval-broker.service)
set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY
  CMAKE_CONFIGURE_DEPENDS ${_unit_src})
file(READ ${_unit_src} _unit)
string(FIND "${_unit}" "[Unit]" _unit_start)
string(SUBSTRING "${_unit}" ${_unit_start} -1 _unit)
string(REPLACE "/usr/local/bin/approval-broker"
  "${CPACK_PACKAGING_INSTALL_PREFIX}/bin/approval-broker" _unit "${_unit}")
set(_unit "# systemd unit for the Approval Broker, installed by the \
approval-broker package.\n# Before `systemctl enable --now approval-broker`: \
set database_url (or\n# APPROVAL_BROKER_DATABASE_URL in ${_etc}/env) and \
signing_key_file in\n# ${_etc}/config.jsonc, and run `approval-broker \
migrate` as the schema owner.\n\n${_unit}")
file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/deploy/approval-broker.service
  CONTENT "${_unit}" @ONLY)

install(FILES ${PROJECT_BINARY_DIR}/deploy/approval-broker.service
  DESTINATION /lib/systemd/system COMPONENT broker)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/config.example.jsonc
  DESTINATION ${_etc} RENAME config.jsonc COMPONENT broker
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/policy.example.jsonc
  DESTINATION ${_etc} COMPONENT broker
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/postgres-roles.sql
  DESTINATION share/doc/approval-broker COMPONENT broker)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME approval-broker)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Approval Broker maintainers <approval-broker@localhost>")
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL broker approval_client)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Debug info stays in the build tree; the packages carry stripped binaries.
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_BROKER_PACKAGE_NAME approval-broker)
set(CPACK_DEBIAN_BROKER_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_BROKER_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_BROKER_DESCRIPTION "human approval of privileged actions \
requested by AI agents\n\
The Approval Broker is a gRPC service: an agent asks for approval of a\n\
privileged action, human reviewers approve or deny it, every change lands\n\
in a hash-chained audit log in PostgreSQL. Includes approvalctl.")
set(CPACK_DEBIAN_BROKER_PACKAGE_CONTROL_EXTRA
  ${_deb_dir}/postinst ${_deb_dir}/prerm ${_deb_dir}/postrm
  ${_deb_dir}/conffiles)

set(CPACK_DEBIAN_APPROVAL_CLIENT_PACKAGE_NAME approval-client-dev)
set(CPACK_DEBIAN_APPROVAL_CLIENT_PACKAGE_SECTION libdevel)
# The public headers use Abseil; the CMake package file finds it.
set(CPACK_DEBIAN_APPROVAL_CLIENT_PACKAGE_DEPENDS "libabsl-dev")
set(CPACK_DEBIAN_APPROVAL_CLIENT_DESCRIPTION "Approval Broker client \
library (C++) and headers\n\
libapproval_client.so, its headers and CMake package files\n\
(find_package(approval_client CONFIG), target approval::client).")

include(CPack)
