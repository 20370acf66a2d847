#include "server/config/config.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "server/auth/spiffe_id.h"
#include "server/config/read_file.h"
#include "server/config/strict_json.h"

namespace approval {
namespace {

// ordered_json so that errors come in file order.
using Json = nlohmann::ordered_json;

constexpr size_t kMaxParametersBytesCeiling = 16 * 1024 * 1024;
constexpr int kMaxPoolSize = 256;

std::string Show(const Json& v) { return ShowJson(v); }
std::string Quote(absl::string_view s) { return QuoteJson(s); }

std::string JoinPath(absl::string_view parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}

// Parses one JSON value at `path` into its destination.
using FieldParser =
    std::function<absl::Status(const Json& value, const std::string& path)>;

struct Field {
  absl::string_view name;
  FieldParser parse;
};

// Turns the JSON tree into a Config; every error names source_ and the
// dotted key.
class Parser final {
 public:
  explicit Parser(absl::string_view source) : source_(source) {}

  absl::Status Error(absl::string_view path, absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": ", path, ": ", what));
  }

  absl::Status WrongType(const Json& v, absl::string_view path,
                         absl::string_view expected) const {
    return Error(path, absl::StrCat(Show(v), " is ", ArticleType(v),
                                    ", expected ", expected));
  }

  // Dispatches each member of the object `v` to its field; a key that is not
  // a field is an error listing the known ones.
  absl::Status Object(const Json& v, const std::string& path,
                      const std::vector<Field>& fields) const {
    if (!v.is_object()) {
      return WrongType(v, path.empty() ? "(top level)" : path, "an object");
    }
    for (const auto& [key, value] : v.items()) {
      const std::string key_path = JoinPath(path, key);
      const Field* field = nullptr;
      for (const Field& f : fields) {
        if (f.name == key) field = &f;
      }
      if (field == nullptr) {
        std::vector<absl::string_view> names;
        for (const Field& f : fields) names.push_back(f.name);
        return Error(key_path, absl::StrCat("unknown key (expected one of: ",
                                            absl::StrJoin(names, ", "), ")"));
      }
      if (absl::Status s = field->parse(value, key_path); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  FieldParser String(std::string* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (!v.is_string()) return WrongType(v, path, "a string");
      *out = v.get<std::string>();
      return absl::OkStatus();
    };
  }

  FieldParser Int(int* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (!v.is_number_integer()) return WrongType(v, path, "an integer");
      if (v.is_number_unsigned()
              ? v.get<uint64_t>() >
                    static_cast<uint64_t>(std::numeric_limits<int>::max())
              : (v.get<int64_t>() > std::numeric_limits<int>::max() ||
                 v.get<int64_t>() < std::numeric_limits<int>::min())) {
        return Error(path, absl::StrCat(Show(v), " is out of range"));
      }
      *out = static_cast<int>(v.get<int64_t>());
      return absl::OkStatus();
    };
  }

  FieldParser Size(size_t* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (!v.is_number_integer()) {
        return WrongType(v, path, "a non-negative integer");
      }
      if (!v.is_number_unsigned()) {
        return Error(path, absl::StrCat(Show(v), " is negative"));
      }
      *out = static_cast<size_t>(v.get<uint64_t>());
      return absl::OkStatus();
    };
  }

  FieldParser Duration(absl::Duration* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (!v.is_string()) {
        return WrongType(v, path, "a duration string (like \"90s\", \"1h\")");
      }
      if (!absl::ParseDuration(v.get<std::string>(), out)) {
        return Error(path, absl::StrCat(Show(v),
                                        " is not a duration (like \"90s\", "
                                        "\"1h\")"));
      }
      return absl::OkStatus();
    };
  }

  FieldParser Roles(std::set<Role>* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (!v.is_array()) return WrongType(v, path, "an array of roles");
      out->clear();
      for (size_t i = 0; i < v.size(); ++i) {
        const std::string item_path = absl::StrCat(path, "[", i, "]");
        const Json& item = v[i];
        if (!item.is_string()) return WrongType(item, item_path, "a role");
        std::optional<Role> role = ParseRole(item.get<std::string>());
        if (!role) {
          return Error(
              item_path,
              absl::StrCat(
                  Show(item),
                  " is not a role (agent, reviewer, admin, observer)"));
        }
        out->insert(*role);
      }
      return absl::OkStatus();
    };
  }

  FieldParser MtlsIdentities(std::vector<MtlsIdentity>* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (!v.is_array()) return WrongType(v, path, "an array of objects");
      out->assign(v.size(), MtlsIdentity{});
      for (size_t i = 0; i < v.size(); ++i) {
        MtlsIdentity& id = (*out)[i];
        if (absl::Status s = Object(v[i], absl::StrCat(path, "[", i, "]"),
                                    {{"identity", String(&id.identity)},
                                     {"roles", Roles(&id.roles)}});
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    };
  }

  FieldParser StringArray(std::vector<std::string>* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (!v.is_array()) return WrongType(v, path, "an array of strings");
      out->clear();
      for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_string()) {
          return WrongType(v[i], absl::StrCat(path, "[", i, "]"), "a string");
        }
        out->push_back(v[i].get<std::string>());
      }
      return absl::OkStatus();
    };
  }

  FieldParser GroupRoles(std::map<std::string, std::set<Role>>* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (!v.is_object()) {
        return WrongType(v, path, "an object {\"group\": [roles]}");
      }
      out->clear();
      for (const auto& [group, roles] : v.items()) {
        if (absl::Status s =
                Roles(&(*out)[group])(roles, JoinPath(path, group));
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    };
  }

  FieldParser Principals(std::vector<PrincipalMapping>* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (!v.is_array()) return WrongType(v, path, "an array of objects");
      out->assign(v.size(), PrincipalMapping{});
      for (size_t i = 0; i < v.size(); ++i) {
        PrincipalMapping& m = (*out)[i];
        if (absl::Status s =
                Object(v[i], absl::StrCat(path, "[", i, "]"),
                       {{"principal", String(&m.principal)},
                        {"identities", StringArray(&m.identities)}});
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    };
  }

  FieldParser OnBehalfOfList(std::vector<OnBehalfOf>* out) const {
    return [this, out](const Json& v, const std::string& path) {
      if (!v.is_array()) return WrongType(v, path, "an array of objects");
      out->assign(v.size(), OnBehalfOf{});
      for (size_t i = 0; i < v.size(); ++i) {
        OnBehalfOf& o = (*out)[i];
        if (absl::Status s = Object(
                v[i], absl::StrCat(path, "[", i, "]"),
                {{"agent", String(&o.agent)}, {"human", String(&o.human)}});
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    };
  }

  FieldParser Nested(std::vector<Field> fields) const {
    return [this, fields = std::move(fields)](const Json& v,
                                              const std::string& path) {
      return Object(v, path, fields);
    };
  }

  FieldParser Oidc(OidcConfig* o) const {
    return Nested({
        {"issuer", String(&o->issuer)},
        {"audience", String(&o->audience)},
        {"jwks_file", String(&o->jwks_file)},
        {"jwks_url", String(&o->jwks_url)},
        {"jwks_ca_file", String(&o->jwks_ca_file)},
        {"allowed_algorithms", StringArray(&o->allowed_algorithms)},
        {"identity_claim", String(&o->identity_claim)},
        {"groups_claim", String(&o->groups_claim)},
        {"group_roles", GroupRoles(&o->group_roles)},
        {"clock_skew", Duration(&o->clock_skew)},
        {"jwks_refresh_min_interval", Duration(&o->jwks_refresh_min_interval)},
        {"jwks_fetch_timeout", Duration(&o->jwks_fetch_timeout)},
        {"unknown_key_wait", Duration(&o->unknown_key_wait)},
    });
  }

  absl::Status Top(const Json& v, Config& c) const {
    return Object(
        v, "",
        {
            {"database_url", String(&c.database_url)},
            {"database_pool_size", Int(&c.database_pool_size)},
            {"database_statement_timeout",
             Duration(&c.database_statement_timeout)},
            {"listen_address", String(&c.listen_address)},
            {"metrics_address", String(&c.metrics_address)},
            {"tls",
             Nested({{"cert_file", String(&c.tls.cert_file)},
                     {"key_file", String(&c.tls.key_file)},
                     {"client_ca_file", String(&c.tls.client_ca_file)}})},
            {"auth",
             Nested({
                 {"tokens_file", String(&c.auth.tokens_file)},
                 {"mtls_identities", MtlsIdentities(&c.auth.mtls_identities)},
                 {"oidc", Oidc(&c.auth.oidc)},
                 {"spiffe", Nested({{"trust_domain",
                                     String(&c.auth.spiffe.trust_domain)}})},
                 {"principals", Principals(&c.auth.principals)},
                 {"on_behalf_of", OnBehalfOfList(&c.auth.on_behalf_of)},
             })},
            {"limits",
             Nested({
                 {"max_action_bytes", Size(&c.limits.max_action_bytes)},
                 {"max_resource_bytes", Size(&c.limits.max_resource_bytes)},
                 {"max_parameters_bytes", Size(&c.limits.max_parameters_bytes)},
                 {"max_justification_bytes",
                  Size(&c.limits.max_justification_bytes)},
                 {"max_comment_bytes", Size(&c.limits.max_comment_bytes)},
                 {"max_idempotency_key_bytes",
                  Size(&c.limits.max_idempotency_key_bytes)},
                 {"default_ttl", Duration(&c.limits.default_ttl)},
                 {"min_ttl", Duration(&c.limits.min_ttl)},
                 {"max_ttl", Duration(&c.limits.max_ttl)},
             })},
            {"expiry_sweep_interval", Duration(&c.expiry_sweep_interval)},
            {"event_poll_interval", Duration(&c.event_poll_interval)},
            {"stream_max_backlog", Int(&c.stream_max_backlog)},
            {"stream_overflow_grace", Duration(&c.stream_overflow_grace)},
            {"shutdown_grace", Duration(&c.shutdown_grace)},
            {"policy_file", String(&c.policy_file)},
            {"fingerprint_key_file", String(&c.fingerprint_key_file)},
            {"signing_key_file", String(&c.signing_key_file)},
            {"audit_trusted_keys", StringArray(&c.audit_trusted_keys)},
        });
  }

 private:
  static std::string ArticleType(const Json& v) {
    switch (v.type()) {
      case Json::value_t::object:
        return "an object";
      case Json::value_t::array:
        return "an array";
      case Json::value_t::string:
        return "a string";
      case Json::value_t::boolean:
        return "a boolean";
      case Json::value_t::null:
        return "null";
      case Json::value_t::number_float:
        return "a fractional number";
      default:
        return "a number";
    }
  }

  absl::string_view source_;
};

absl::Status CheckReadable(absl::string_view key, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": ", Quote(path), " is a directory, not a file"));
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int err = errno;
    return absl::InvalidArgumentError(absl::StrCat(
        key, ": ", Quote(path), " is not readable: ", std::strerror(err)));
  }
  std::fclose(f);
  return absl::OkStatus();
}

absl::Status CheckDuration(absl::string_view key, absl::Duration d) {
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": ", absl::FormatDuration(d),
                     " must be a positive, finite duration"));
  }
  return absl::OkStatus();
}

absl::Status CheckHostPort(absl::string_view key, const std::string& address) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        key, ": ", Quote(address), " is not \"host:port\" (", why, ")"));
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return bad("no port");
  const absl::string_view host = absl::string_view(address).substr(0, colon);
  const absl::string_view port = absl::string_view(address).substr(colon + 1);
  if (host.empty()) return bad("empty host");
  if (host.front() == '[' && host.back() != ']') return bad("unclosed [");
  uint32_t port_number = 0;
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(),
                   [](char ch) { return absl::ascii_isdigit(ch); }) ||
      !absl::SimpleAtoi(port, &port_number) || port_number > 65535) {
    return bad("port must be 0..65535");
  }
  return absl::OkStatus();
}

absl::Status CheckBytes(absl::string_view key, size_t value) {
  if (value == 0) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": 0 must be > 0"));
  }
  return absl::OkStatus();
}

constexpr absl::Duration kMaxClockSkew = absl::Minutes(5);
constexpr absl::Duration kMaxJwksFetchTimeout = absl::Seconds(60);
constexpr absl::Duration kMaxUnknownKeyWait = absl::Seconds(60);

absl::Status Invalid(absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", what));
}

absl::Status ValidateOidc(const OidcConfig& o) {
  if (!o.enabled()) {
    const std::pair<absl::string_view, bool> set[] = {
        {"audience", !o.audience.empty()},
        {"jwks_file", !o.jwks_file.empty()},
        {"jwks_url", !o.jwks_url.empty()},
        {"jwks_ca_file", !o.jwks_ca_file.empty()},
        {"groups_claim", !o.groups_claim.empty()},
        {"group_roles", !o.group_roles.empty()},
    };
    for (const auto& [key, is_set] : set) {
      if (is_set) {
        return Invalid("auth.oidc.issuer",
                       absl::StrCat("required when auth.oidc.", key,
                                    " is set (OIDC is off without it)"));
      }
    }
    return absl::OkStatus();
  }
  if (o.audience.empty()) {
    return Invalid("auth.oidc.audience",
                   "required: the value tokens for this broker carry in aud");
  }
  if (o.jwks_file.empty() == o.jwks_url.empty()) {
    return Invalid("auth.oidc",
                   "set exactly one of jwks_file and jwks_url (where the "
                   "IdP's signing keys come from)");
  }
  if (!o.jwks_url.empty()) {
    const bool has_space =
        std::any_of(o.jwks_url.begin(), o.jwks_url.end(), [](char c) {
          return absl::ascii_isspace(static_cast<unsigned char>(c)) ||
                 absl::ascii_iscntrl(static_cast<unsigned char>(c));
        });
    if (!absl::StartsWith(o.jwks_url, "https://") || o.jwks_url.size() <= 8 ||
        has_space) {
      return Invalid("auth.oidc.jwks_url",
                     absl::StrCat(Quote(o.jwks_url),
                                  " is not an https:// URL (keys are only "
                                  "fetched over verified TLS)"));
    }
  }
  if (!o.jwks_file.empty()) {
    if (absl::Status s = CheckReadable("auth.oidc.jwks_file", o.jwks_file);
        !s.ok()) {
      return s;
    }
  }
  if (!o.jwks_ca_file.empty()) {
    if (o.jwks_url.empty()) {
      return Invalid("auth.oidc.jwks_ca_file",
                     "only used with jwks_url, which is not set");
    }
    if (absl::Status s =
            CheckReadable("auth.oidc.jwks_ca_file", o.jwks_ca_file);
        !s.ok()) {
      return s;
    }
  }
  if (o.allowed_algorithms.empty()) {
    return Invalid("auth.oidc.allowed_algorithms",
                   "empty: no token could be verified (use RS256 and/or "
                   "ES256)");
  }
  for (size_t i = 0; i < o.allowed_algorithms.size(); ++i) {
    const std::string& alg = o.allowed_algorithms[i];
    const std::string key =
        absl::StrCat("auth.oidc.allowed_algorithms[", i, "]");
    if (alg == "RS256" || alg == "ES256") continue;
    if (absl::AsciiStrToLower(alg) == "none") {
      return Invalid(key, "\"none\" (unsigned tokens) is never accepted");
    }
    if (absl::StartsWith(alg, "HS")) {
      return Invalid(key, absl::StrCat(Quote(alg),
                                       " is refused: HMAC algorithms would "
                                       "turn a public key into a secret"));
    }
    return Invalid(
        key, absl::StrCat(Quote(alg), " is not supported (RS256, ES256)"));
  }
  if (o.identity_claim.empty()) {
    return Invalid("auth.oidc.identity_claim", "must not be empty");
  }
  if (!o.group_roles.empty() && o.groups_claim.empty()) {
    return Invalid("auth.oidc.group_roles",
                   "set auth.oidc.groups_claim too: without it tokens carry "
                   "no groups");
  }
  for (const auto& [group, roles] : o.group_roles) {
    if (group.empty()) {
      return Invalid("auth.oidc.group_roles", "a group name is empty");
    }
    if (roles.empty()) {
      return Invalid(JoinPath("auth.oidc.group_roles", group),
                     "no roles (agent, reviewer, admin, observer)");
    }
  }
  if (o.clock_skew < absl::ZeroDuration() || o.clock_skew > kMaxClockSkew) {
    return Invalid(
        "auth.oidc.clock_skew",
        absl::StrCat(absl::FormatDuration(o.clock_skew), " is outside [0s, ",
                     absl::FormatDuration(kMaxClockSkew), "]"));
  }
  if (absl::Status s = CheckDuration("auth.oidc.jwks_refresh_min_interval",
                                     o.jwks_refresh_min_interval);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckDuration("auth.oidc.jwks_fetch_timeout", o.jwks_fetch_timeout);
      !s.ok()) {
    return s;
  }
  if (o.jwks_fetch_timeout > kMaxJwksFetchTimeout) {
    return Invalid(
        "auth.oidc.jwks_fetch_timeout",
        absl::StrCat(absl::FormatDuration(o.jwks_fetch_timeout), " exceeds ",
                     absl::FormatDuration(kMaxJwksFetchTimeout)));
  }
  if (o.unknown_key_wait < absl::ZeroDuration() ||
      o.unknown_key_wait > kMaxUnknownKeyWait) {
    return Invalid("auth.oidc.unknown_key_wait",
                   absl::StrCat(absl::FormatDuration(o.unknown_key_wait),
                                " is outside [0s, ",
                                absl::FormatDuration(kMaxUnknownKeyWait), "]"));
  }
  return absl::OkStatus();
}

absl::Status CheckQualifiedIdentity(absl::string_view key,
                                    const std::string& identity) {
  if (IsQualifiedIdentity(identity)) return absl::OkStatus();
  return Invalid(key, absl::StrCat(Quote(identity),
                                   " is not a qualified identity (token:<id>, "
                                   "oidc:<claim value>, mtls:<certificate "
                                   "identity> or spiffe://<trust "
                                   "domain>/<path>)"));
}

// principals and on_behalf_of: well-formed, each identity at most once.
absl::Status ValidateIdentityLinks(const AuthConfig& a) {
  std::map<std::string, std::string> principal_of;  // identity -> principal
  std::set<std::string> principals;
  for (size_t i = 0; i < a.principals.size(); ++i) {
    const PrincipalMapping& m = a.principals[i];
    const std::string key = absl::StrCat("auth.principals[", i, "]");
    if (m.principal.empty() ||
        std::any_of(m.principal.begin(), m.principal.end(), [](char c) {
          return absl::ascii_iscntrl(static_cast<unsigned char>(c));
        })) {
      return Invalid(absl::StrCat(key, ".principal"),
                     "must be non-empty printable text");
    }
    if (!principals.insert(m.principal).second) {
      return Invalid(absl::StrCat(key, ".principal"),
                     absl::StrCat(Quote(m.principal),
                                  " is listed twice; merge the entries"));
    }
    if (m.identities.empty()) {
      return Invalid(absl::StrCat(key, ".identities"), "no identities to link");
    }
    for (size_t j = 0; j < m.identities.size(); ++j) {
      const std::string& identity = m.identities[j];
      const std::string id_key = absl::StrCat(key, ".identities[", j, "]");
      if (absl::Status s = CheckQualifiedIdentity(id_key, identity); !s.ok()) {
        return s;
      }
      if (auto [it, inserted] = principal_of.emplace(identity, m.principal);
          !inserted) {
        return Invalid(id_key, absl::StrCat(Quote(identity),
                                            " is already linked to principal ",
                                            Quote(it->second)));
      }
    }
  }
  std::set<std::string> agents;
  for (size_t i = 0; i < a.on_behalf_of.size(); ++i) {
    const OnBehalfOf& o = a.on_behalf_of[i];
    const std::string key = absl::StrCat("auth.on_behalf_of[", i, "]");
    if (absl::Status s =
            CheckQualifiedIdentity(absl::StrCat(key, ".agent"), o.agent);
        !s.ok()) {
      return s;
    }
    if (!agents.insert(o.agent).second) {
      return Invalid(absl::StrCat(key, ".agent"),
                     absl::StrCat(Quote(o.agent),
                                  " is listed twice; an agent acts for one "
                                  "human"));
    }
    if (o.human.empty()) {
      return Invalid(absl::StrCat(key, ".human"),
                     "must name the human's principal");
    }
    const auto mapped = principal_of.find(o.agent);
    if (mapped != principal_of.end() && mapped->second == o.human) {
      return Invalid(absl::StrCat(key, ".human"),
                     absl::StrCat(Quote(o.human), " is the agent ",
                                  Quote(o.agent), " itself"));
    }
  }
  return absl::OkStatus();
}

std::string Resolve(const std::filesystem::path& dir, const std::string& p) {
  if (p.empty() || dir.empty() || std::filesystem::path(p).is_absolute()) {
    return p;
  }
  return (dir / p).string();
}

}  // namespace

bool TlsConfig::enabled() const {
  return !cert_file.empty() || !key_file.empty() || !client_ca_file.empty();
}

absl::StatusOr<Config> ParseConfig(std::string_view text,
                                   std::string_view source_view) {
  // This Abseil build has its own string_view type, distinct from std's.
  const absl::string_view source(source_view.data(), source_view.size());
  absl::StatusOr<Json> root =
      ParseStrictJson(absl::string_view(text.data(), text.size()), source);
  if (!root.ok()) return root.status();
  Config c;
  if (absl::Status s = Parser(source).Top(*root, c); !s.ok()) return s;
  return c;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<Config> c = ParseConfig(*text, path);
  if (!c.ok()) return c.status();
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  c->tls.cert_file = Resolve(dir, c->tls.cert_file);
  c->tls.key_file = Resolve(dir, c->tls.key_file);
  c->tls.client_ca_file = Resolve(dir, c->tls.client_ca_file);
  c->auth.tokens_file = Resolve(dir, c->auth.tokens_file);
  c->auth.oidc.jwks_file = Resolve(dir, c->auth.oidc.jwks_file);
  c->auth.oidc.jwks_ca_file = Resolve(dir, c->auth.oidc.jwks_ca_file);
  c->policy_file = Resolve(dir, c->policy_file);
  c->fingerprint_key_file = Resolve(dir, c->fingerprint_key_file);
  c->signing_key_file = Resolve(dir, c->signing_key_file);
  for (std::string& key : c->audit_trusted_keys) key = Resolve(dir, key);
  return c;
}

std::optional<std::string> ProcessGetenv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

void ApplyEnvironment(Config& c, const GetenvFunction& getenv) {
  const std::pair<const char*, std::string*> overrides[] = {
      {"APPROVAL_BROKER_DATABASE_URL", &c.database_url},
      {"APPROVAL_BROKER_LISTEN_ADDRESS", &c.listen_address},
      {"APPROVAL_BROKER_METRICS_ADDRESS", &c.metrics_address},
  };
  for (const auto& [name, field] : overrides) {
    if (std::optional<std::string> value = getenv(name)) {
      *field = std::move(*value);
    }
  }
}

absl::Status ValidateConfig(const Config& c, bool require_database) {
  if (require_database && c.database_url.empty()) {
    return absl::InvalidArgumentError(
        "database_url: required (set it in the config file or "
        "APPROVAL_BROKER_DATABASE_URL)");
  }
  if (c.database_pool_size < 1 || c.database_pool_size > kMaxPoolSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("database_pool_size: ", c.database_pool_size,
                     " is out of range 1..", kMaxPoolSize));
  }
  if (absl::Status s = CheckHostPort("listen_address", c.listen_address);
      !s.ok()) {
    return s;
  }
  if (!c.metrics_address.empty()) {
    if (absl::Status s = CheckHostPort("metrics_address", c.metrics_address);
        !s.ok()) {
      return s;
    }
  }

  const std::pair<absl::string_view, absl::Duration> durations[] = {
      {"database_statement_timeout", c.database_statement_timeout},
      {"limits.default_ttl", c.limits.default_ttl},
      {"limits.min_ttl", c.limits.min_ttl},
      {"limits.max_ttl", c.limits.max_ttl},
      {"expiry_sweep_interval", c.expiry_sweep_interval},
      {"event_poll_interval", c.event_poll_interval},
      {"shutdown_grace", c.shutdown_grace},
      {"stream_overflow_grace", c.stream_overflow_grace},
  };
  for (const auto& [key, d] : durations) {
    if (absl::Status s = CheckDuration(key, d); !s.ok()) return s;
  }
  auto ttl_order = [](absl::string_view a, absl::Duration da,
                      absl::string_view relation, absl::string_view b,
                      absl::Duration db) {
    return absl::InvalidArgumentError(
        absl::StrCat(a, ": ", absl::FormatDuration(da), " is ", relation, " ",
                     b, ": ", absl::FormatDuration(db)));
  };
  const Limits& l = c.limits;
  if (l.min_ttl > l.max_ttl) {
    return ttl_order("limits.min_ttl", l.min_ttl, "greater than",
                     "limits.max_ttl", l.max_ttl);
  }
  if (l.default_ttl < l.min_ttl) {
    return ttl_order("limits.default_ttl", l.default_ttl, "less than",
                     "limits.min_ttl", l.min_ttl);
  }
  if (l.default_ttl > l.max_ttl) {
    return ttl_order("limits.default_ttl", l.default_ttl, "greater than",
                     "limits.max_ttl", l.max_ttl);
  }

  const std::pair<absl::string_view, size_t> bytes[] = {
      {"limits.max_action_bytes", c.limits.max_action_bytes},
      {"limits.max_resource_bytes", c.limits.max_resource_bytes},
      {"limits.max_parameters_bytes", c.limits.max_parameters_bytes},
      {"limits.max_justification_bytes", c.limits.max_justification_bytes},
      {"limits.max_comment_bytes", c.limits.max_comment_bytes},
      {"limits.max_idempotency_key_bytes", c.limits.max_idempotency_key_bytes},
  };
  for (const auto& [key, value] : bytes) {
    if (absl::Status s = CheckBytes(key, value); !s.ok()) return s;
  }
  if (c.limits.max_parameters_bytes > kMaxParametersBytesCeiling) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limits.max_parameters_bytes: ", c.limits.max_parameters_bytes,
        " exceeds ", kMaxParametersBytesCeiling, " (16 MiB)"));
  }
  if (c.stream_max_backlog < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "stream_max_backlog: ", c.stream_max_backlog, " must be > 0"));
  }

  if (c.tls.enabled()) {
    const std::pair<absl::string_view, const std::string*> files[] = {
        {"tls.cert_file", &c.tls.cert_file},
        {"tls.key_file", &c.tls.key_file},
        {"tls.client_ca_file", &c.tls.client_ca_file},
    };
    std::vector<absl::string_view> missing;
    for (const auto& [key, file] : files) {
      if (file->empty()) missing.push_back(key);
    }
    if (!missing.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tls: set all of cert_file, key_file and client_ca_file, or none; "
          "missing: ",
          absl::StrJoin(missing, ", ")));
    }
    for (const auto& [key, file] : files) {
      if (absl::Status s = CheckReadable(key, *file); !s.ok()) return s;
    }
  }

  for (const auto& [key, path] :
       {std::pair<const char*, const std::string*>{"policy_file",
                                                   &c.policy_file},
        {"fingerprint_key_file", &c.fingerprint_key_file},
        {"signing_key_file", &c.signing_key_file}}) {
    if (path->empty()) continue;
    if (absl::Status s = CheckReadable(key, *path); !s.ok()) return s;
  }
  for (const std::string& path : c.audit_trusted_keys) {
    if (absl::Status s = CheckReadable("audit_trusted_keys", path); !s.ok()) {
      return s;
    }
  }
  if (c.auth.tokens_file.empty() && c.auth.mtls_identities.empty() &&
      !c.auth.oidc.enabled()) {
    return absl::InvalidArgumentError(
        "auth: set auth.tokens_file, auth.mtls_identities or auth.oidc; with "
        "none of them no caller can authenticate");
  }
  if (!c.auth.tokens_file.empty()) {
    if (absl::Status s = CheckReadable("auth.tokens_file", c.auth.tokens_file);
        !s.ok()) {
      return s;
    }
  }
  if (!c.auth.mtls_identities.empty() && !c.tls.enabled()) {
    return absl::InvalidArgumentError(
        "auth.mtls_identities: configured without tls; client certificates "
        "are only seen over TLS");
  }
  if (c.auth.spiffe.enabled()) {
    if (!IsTrustDomainName(c.auth.spiffe.trust_domain)) {
      return Invalid("auth.spiffe.trust_domain",
                     absl::StrCat(Quote(c.auth.spiffe.trust_domain),
                                  " is not a trust domain name (lower-case "
                                  "letters, digits, '.', '-', '_')"));
    }
    if (!c.tls.enabled()) {
      return Invalid("auth.spiffe",
                     "configured without tls; client certificates are only "
                     "seen over TLS");
    }
  }
  if (absl::Status s = ValidateOidc(c.auth.oidc); !s.ok()) return s;
  if (absl::Status s = ValidateIdentityLinks(c.auth); !s.ok()) return s;
  std::set<absl::string_view> identities;
  for (size_t i = 0; i < c.auth.mtls_identities.size(); ++i) {
    const MtlsIdentity& id = c.auth.mtls_identities[i];
    const std::string key = absl::StrCat("auth.mtls_identities[", i, "]");
    if (id.identity.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ".identity: must not be empty"));
    }
    if (c.auth.spiffe.enabled()) {
      const std::optional<SpiffeId> spiffe = ParseSpiffeId(id.identity);
      if (!spiffe || spiffe->path.empty() ||
          spiffe->trust_domain != c.auth.spiffe.trust_domain) {
        return Invalid(
            absl::StrCat(key, ".identity"),
            absl::StrCat(Quote(id.identity),
                         " is not a SPIFFE ID with a path in trust domain ",
                         Quote(c.auth.spiffe.trust_domain),
                         "; with auth.spiffe set no other certificate is "
                         "accepted"));
      }
    }
    if (!identities.insert(id.identity).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          key, ".identity: ", Quote(id.identity), " is listed twice"));
    }
    if (id.roles.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ".roles: ", Quote(id.identity),
                       " has no roles (agent, reviewer, admin, observer)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace approval
