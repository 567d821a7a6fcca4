// Public exports only: each component lives in its own file, as DESIGN.md lays out.
export * from "./errors";
export * from "./host/connection";
export * from "./host/host";
export * from "./host/instanceArch";
export * from "./host/cloudInit";
export * from "./host/ec2Host";
export * from "./host/sshHost";
export * from "./image/lispImage";
export * from "./release/heroku";
export * from "./release/systemdRelease";
export * from "./release/localRelease";
export * from "./app/webApp";
export * from "./release/delta";
export * from "./release/slots";
export * from "./release/rollingRelease";
export * from "./release/loadBalancer";
