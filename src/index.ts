// Public exports only: each component lives in its own file, as DESIGN.md lays out.
export * from "./errors";
export * from "./host/connection";
export * from "./host/host";
export * from "./host/instanceArch";
export * from "./host/cloudInit";
export * from "./host/ec2Host";
export * from "./host/sshHost";
export * from "./image/lispImage";
export * from "./release/heroku/herokuRelease";
export * from "./release/systemd/systemdRelease";
export * from "./release/local/localRelease";
export * from "./app/webApp";
export * from "./release/systemd/deltaRelease";
export * from "./release/systemd/zeroDowntime";
export * from "./release/systemd/rollingRelease";
export * from "./host/loadBalancer";
