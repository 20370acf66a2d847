// The one source file of the precompiled-header targets
// (cmake/precompiled_headers.cmake): they exist to build the headers.
