// Public exports only: each component lives in its own file, as DESIGN.md lays out.
export * from "./host/connection";
export * from "./errors";
export * from "./release/systemdRelease";
