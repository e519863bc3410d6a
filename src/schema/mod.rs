//! Asset schemas.
