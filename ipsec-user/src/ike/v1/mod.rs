//! IKEv1 exchanges, one task per exchange: main mode, aggressive mode, quick mode, informational.
