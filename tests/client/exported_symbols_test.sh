#!/usr/bin/env bash
# Checks what libapproval_client.so ($2) exports and carries.
#
# Usage: exported_symbols_test.sh <check> <path to libapproval_client.so>
#   only-public-api  the dynamic symbol table defines nothing but the API of
#                    include/approval/client.h (plus the weak instantiations
#                    and type info of the C++ standard library's templates,
#                    which GCC gives default visibility by design);
#   whole-public-api every function of that API is exported;
#   no-signing       no token-signing code is linked in: no TokenSigner or
#                    key-generation symbol in the full symbol table, and no
#                    import of OpenSSL's signing or private-key functions.
set -euo pipefail
check="$1"
lib="$2"

public_api_re='^(approval::Client::(Create|RequireApproval|RunIfApproved)\(|approval::DecisionStateName\(|approval::VerifyApprovalToken\([^,]+, [^,]+, approval::ApprovalRequest const&, [^,]+\)$|(typeinfo|typeinfo name|vtable) for approval::Client$)'
# A template function's demangled name starts with its return type
# ("void std::__cxx11::basic_string<...>::_M_construct<...>(...)", exported
# weak by the -O1 sanitizer build).
stdlib_re='^((typeinfo|typeinfo name|vtable|VTT|construction vtable) for )?([^ (]+ )?(std|__gnu_cxx)::'

case "${check}" in
  only-public-api)
    bad=0
    while read -r _ type name; do
      if [[ "${name}" =~ ${public_api_re} ]]; then continue; fi
      if [[ "${type}" =~ ^[WVu]$ && "${name}" =~ ${stdlib_re} ]]; then
        continue
      fi
      echo "exported but not public API: ${type} ${name}" >&2
      bad=1
    done < <(nm -DC --defined-only "${lib}")
    if [[ ${bad} -ne 0 ]]; then
      echo "FAIL: ${lib} exports symbols outside include/approval/client.h" >&2
      exit 1
    fi
    echo "OK: $(nm -D --defined-only "${lib}" | wc -l) exported symbols, all public API or standard library"
    ;;
  whole-public-api)
    exported="$(nm -DC --defined-only "${lib}")"
    missing=0
    for fn in 'approval::Client::Create(' 'approval::Client::RequireApproval(' \
        'approval::Client::RunIfApproved(' 'approval::DecisionStateName(' \
        'approval::VerifyApprovalToken('; do
      if ! grep -qF " T ${fn}" <<<"${exported}"; then
        echo "FAIL: ${lib} does not export ${fn}...)" >&2
        missing=1
      fi
    done
    if [[ ${missing} -ne 0 ]]; then exit 1; fi
    echo "OK: ${lib} exports the whole public API"
    ;;
  no-signing)
    symbols="$(nm -C "${lib}")"
    if [[ -z "${symbols}" ]]; then
      echo "FAIL: ${lib} has no symbol table to check (stripped?)" >&2
      exit 1
    fi
    if grep -E 'TokenSigner|GenerateSigningKeyPem|SignDetached' <<<"${symbols}" >&2; then
      echo "FAIL: ${lib} contains token-signing code" >&2
      exit 1
    fi
    if nm -D --undefined-only "${lib}" |
        grep -E ' (EVP_DigestSign|EVP_DigestSignInit|EVP_PKEY_keygen|PEM_read_bio_PrivateKey|PEM_write_bio_PrivateKey)(@|$)' >&2; then
      echo "FAIL: ${lib} imports OpenSSL signing or private-key functions" >&2
      exit 1
    fi
    echo "OK: no signing code in ${lib}"
    ;;
  *)
    echo "usage: $0 only-public-api|whole-public-api|no-signing <library>" >&2
    exit 2
    ;;
esac
