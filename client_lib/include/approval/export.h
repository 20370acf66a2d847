// APPROVAL_CLIENT_EXPORT marks what libapproval_client.so exports: the
// library is built with hidden visibility, so everything else in it (the
// generated protobuf code, approval_wire, the call machinery) stays private
// and cannot clash with a program's own copies.
#ifndef APPROVAL_EXPORT_H_
#define APPROVAL_EXPORT_H_

#if defined(__GNUC__) || defined(__clang__)
#define APPROVAL_CLIENT_EXPORT __attribute__((visibility("default")))
#else
#define APPROVAL_CLIENT_EXPORT
#endif

#endif  // APPROVAL_EXPORT_H_
