#include "server/service/request_check.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/unknown_field_set.h"
#include "server/domain/text.h"

namespace approval {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Free text written for people; every other string is single-line.
bool IsMultiLine(const FieldDescriptor& f) {
  static const auto* const kFields = new absl::flat_hash_set<std::string>{
      "approval.v1.RequestApprovalRequest.justification",
      "approval.v1.RequestApprovalRequest.parameters_json",
      "approval.v1.DecideRequest.comment",
      "approval.v1.CancelApprovalRequest.reason",
  };
  return kFields->contains(f.full_name());
}

// google.protobuf.Timestamp's documented range, 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z: well inside PostgreSQL's timestamptz and
// absl::Time, so a valid bound never fails a query.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
// google.protobuf.Duration's documented range, about +-10000 years.
constexpr int64_t kMaxDurationSeconds = 315576000000;
constexpr int32_t kNanosPerSecond = 1000000000;

absl::Status CheckTimestamp(const Message& m, const std::string& path) {
  const Descriptor* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  const int64_t seconds = r->GetInt64(m, d->FindFieldByName("seconds"));
  const int32_t nanos = r->GetInt32(m, d->FindFieldByName("nanos"));
  if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": seconds ", seconds,
                     " is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z (",
                     kMinTimestampSeconds, "..", kMaxTimestampSeconds, ")"));
  }
  if (nanos < 0 || nanos >= kNanosPerSecond) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": nanos ", nanos, " is outside [0, 999999999]"));
  }
  return absl::OkStatus();
}

absl::Status CheckDuration(const Message& m, const std::string& path) {
  const Descriptor* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  const int64_t seconds = r->GetInt64(m, d->FindFieldByName("seconds"));
  const int32_t nanos = r->GetInt32(m, d->FindFieldByName("nanos"));
  if (seconds < -kMaxDurationSeconds || seconds > kMaxDurationSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": seconds ", seconds, " is outside [-",
                     kMaxDurationSeconds, ", ", kMaxDurationSeconds, "]"));
  }
  if (nanos <= -kNanosPerSecond || nanos >= kNanosPerSecond ||
      (seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": nanos ", nanos,
        " must lie in (-1e9, 1e9) and not have the other sign than seconds"));
  }
  return absl::OkStatus();
}

absl::Status CheckMessage(const Message& m, const std::string& prefix);

// One value of field `f` (element `index` if repeated, else -1) of `m`.
absl::Status CheckValue(const Message& m, const FieldDescriptor& f, int index,
                        const std::string& path) {
  const Reflection* r = m.GetReflection();
  const bool repeated = index >= 0;
  switch (f.cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      if (f.type() == FieldDescriptor::TYPE_BYTES) return absl::OkStatus();
      std::string scratch;
      const std::string& value =
          repeated ? r->GetRepeatedStringReference(m, &f, index, &scratch)
                   : r->GetStringReference(m, &f, &scratch);
      return CheckText(
          path, value,
          IsMultiLine(f) ? TextKind::kMultiLine : TextKind::kSingleLine);
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int value = repeated ? r->GetRepeatedEnumValue(m, &f, index)
                                 : r->GetEnumValue(m, &f);
      if (f.enum_type()->FindValueByNumber(value) == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": ", value, " is not a known ",
                         f.enum_type()->name(), " value"));
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double value;
      if (f.cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
        value =
            repeated ? r->GetRepeatedDouble(m, &f, index) : r->GetDouble(m, &f);
      } else {
        value =
            repeated ? r->GetRepeatedFloat(m, &f, index) : r->GetFloat(m, &f);
      }
      if (!std::isfinite(value)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": ", value, " is not a finite number"));
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return CheckMessage(
          repeated ? r->GetRepeatedMessage(m, &f, index) : r->GetMessage(m, &f),
          path);
    default:
      return absl::OkStatus();
  }
}

// A map entry: its key (named "<path> key") and its value ("<path>[key]").
// Map keys are strings, integers or bools.
absl::Status CheckMapEntry(const Message& entry, const std::string& path) {
  const FieldDescriptor* key = entry.GetDescriptor()->map_key();
  const FieldDescriptor* value = entry.GetDescriptor()->map_value();
  const Reflection* r = entry.GetReflection();
  std::string shown;
  switch (key->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      const std::string k = r->GetString(entry, key);
      if (absl::Status s =
              CheckText(absl::StrCat(path, " key"), k, TextKind::kSingleLine);
          !s.ok()) {
        return s;
      }
      shown = absl::StrCat("\"", k.substr(0, 64), "\"");
      break;
    }
    case FieldDescriptor::CPPTYPE_INT32:
      shown = absl::StrCat(r->GetInt32(entry, key));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      shown = absl::StrCat(r->GetInt64(entry, key));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      shown = absl::StrCat(r->GetUInt32(entry, key));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      shown = absl::StrCat(r->GetUInt64(entry, key));
      break;
    default:
      shown = r->GetBool(entry, key) ? "true" : "false";
      break;
  }
  return CheckValue(entry, *value, -1, absl::StrCat(path, "[", shown, "]"));
}

absl::Status CheckMessage(const Message& m, const std::string& prefix) {
  const std::string& type = m.GetDescriptor()->full_name();
  if (type == "google.protobuf.Timestamp") return CheckTimestamp(m, prefix);
  if (type == "google.protobuf.Duration") return CheckDuration(m, prefix);
  const Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    const std::string path =
        prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (f->is_map()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        if (absl::Status s =
                CheckMapEntry(r->GetRepeatedMessage(m, f, i), path);
            !s.ok()) {
          return s;
        }
      }
    } else if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        if (absl::Status s =
                CheckValue(m, *f, i, absl::StrCat(path, "[", i, "]"));
            !s.ok()) {
          return s;
        }
      }
    } else if (absl::Status s = CheckValue(m, *f, -1, path); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// Why `bytes` did not parse as `d`: the path of the first string field
// holding invalid UTF-8, found by reading the wire format without types
// (which any well-formed message passes). nullopt when there is none.
std::optional<std::string> FindInvalidUtf8(const Descriptor& d,
                                           absl::string_view bytes,
                                           const std::string& prefix,
                                           int depth) {
  if (depth > 100) return std::nullopt;
  google::protobuf::UnknownFieldSet wire;
  if (!wire.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return std::nullopt;
  }
  std::map<int, int> seen;
  for (int i = 0; i < wire.field_count(); ++i) {
    const google::protobuf::UnknownField& u = wire.field(i);
    const int index = seen[u.number()]++;
    const FieldDescriptor* f = d.FindFieldByNumber(u.number());
    if (f == nullptr ||
        u.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      continue;
    }
    std::string path =
        prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (f->is_repeated()) absl::StrAppend(&path, "[", index, "]");
    if (f->type() == FieldDescriptor::TYPE_STRING &&
        !IsValidUtf8(u.length_delimited())) {
      return path;
    }
    if (f->type() == FieldDescriptor::TYPE_MESSAGE) {
      std::optional<std::string> inner = FindInvalidUtf8(
          *f->message_type(), u.length_delimited(), path, depth + 1);
      if (inner.has_value()) return inner;
    }
  }
  return std::nullopt;
}

}  // namespace

absl::Status CheckRequestFields(const google::protobuf::Message& request) {
  return CheckMessage(request, "");
}

absl::Status ParseRequest(absl::string_view bytes,
                          google::protobuf::Message* request) {
  if (request->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return CheckRequestFields(*request);
  }
  request->Clear();
  std::optional<std::string> field =
      FindInvalidUtf8(*request->GetDescriptor(), bytes, "", 0);
  if (field.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request is not valid protobuf (a string field holds invalid "
        "UTF-8): ",
        *field));
  }
  return absl::InvalidArgumentError(
      "request is not valid protobuf (malformed, or a field does not match "
      "its declared type)");
}

absl::Status ParseRequestBuffer(grpc::ByteBuffer* buffer,
                                google::protobuf::Message* request) {
  // No buffer at all: the client sent no message (an empty message is an
  // empty buffer).
  if (!buffer->Valid()) {
    return absl::InvalidArgumentError("request is missing its message");
  }
  std::string bytes;
  std::vector<grpc::Slice> slices;
  const bool read = buffer->Dump(&slices).ok();
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  buffer->Clear();
  if (!read) return absl::InvalidArgumentError("request could not be read");
  return ParseRequest(bytes, request);
}

}  // namespace approval
