// Connection-string helpers (no database needed).
#include "server/store/postgres/conninfo.h"

#include <catch2/catch.hpp>

namespace approval {
namespace {

TEST_CASE("WithConninfoParam appends to URLs as a query parameter",
          "[postgres][conninfo]") {
  CHECK(WithConninfoParam("postgresql://u@h:5432/db", "connect_timeout", "3") ==
        "postgresql://u@h:5432/db?connect_timeout=3");
  CHECK(WithConninfoParam("postgres://h/db?sslmode=require", "user", "a b&c") ==
        "postgres://h/db?sslmode=require&user=a%20b%26c");
  CHECK(WithConninfoParam("postgresql://h/db?", "dbname", "x") ==
        "postgresql://h/db?dbname=x");
}

TEST_CASE("WithConninfoParam appends a quoted key=value pair",
          "[postgres][conninfo]") {
  CHECK(WithConninfoParam("host=h dbname=db", "connect_timeout", "3") ==
        "host=h dbname=db connect_timeout='3'");
  CHECK(WithConninfoParam("", "user", "o'neil\\") == "user='o\\'neil\\\\'");
}

TEST_CASE("ConninfoHasParam reads both forms", "[postgres][conninfo]") {
  CHECK(
      ConninfoHasParam("postgresql://h/db?connect_timeout=9", "connect_timeout")
          .value());
  CHECK_FALSE(ConninfoHasParam("postgresql://h/db", "connect_timeout").value());
  CHECK(
      ConninfoHasParam("host=h connect_timeout=9", "connect_timeout").value());
  CHECK_FALSE(ConninfoHasParam("host=h application_name='connect_timeout=1'",
                               "connect_timeout")
                  .value());
  CHECK(ConninfoHasParam("host='unterminated", "connect_timeout")
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
  CHECK(ConninfoHasParam("postgresql://u@h/db?nonsense=1", "connect_timeout")
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace approval
