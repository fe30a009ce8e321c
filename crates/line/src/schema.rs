//! OpenAPI schema validator (in progress).
