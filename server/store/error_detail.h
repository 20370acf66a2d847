// What a store failure says to operators but never to callers.
//
// A database's own error text can name the database host and port, SQL,
// table and constraint names or a value from a query. Stores put it in a
// payload of the status they return; ToGrpcStatus sends only the code and
// message to clients, and the service logs the payload.
#ifndef APPROVAL_SERVER_STORE_ERROR_DETAIL_H_
#define APPROVAL_SERVER_STORE_ERROR_DETAIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace approval {

inline constexpr absl::string_view kDatabaseDetailUrl =
    "type.approval.broker/database_detail";

// `s` with `detail` attached (an OK status or an empty detail: unchanged).
absl::Status WithDatabaseDetail(absl::Status s, absl::string_view detail);
// The attached detail; "" when there is none.
std::string DatabaseDetail(const absl::Status& s);
// For operators (logs, command-line tools): the message, then the detail in
// brackets when there is one.
std::string MessageWithDetail(const absl::Status& s);

}  // namespace approval

#endif  // APPROVAL_SERVER_STORE_ERROR_DETAIL_H_
