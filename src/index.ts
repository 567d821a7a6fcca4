// The package's public face, named one by one: the components a Pulumi program creates, their arguments,
// and the types and enums those arguments use. Helpers stay in their modules (tests import them from
// there; the ones WebApp shares with the components it composes are marked @internal).

export { ValidationError } from "./errors";
export type { Problem } from "./errors";

// Hosts: where systemd releases run, and the balancer in front of a fleet of them.
export { archOfPlatform } from "./host/host";
export type { Arch, Host, Platform } from "./host/host";
export type { HostConnection, HostConnectionOutput } from "./host/connection";
export { archOfInstanceType } from "./host/instanceArch";
export { ReverseProxy } from "./host/cloudInit";
export { Ec2Host } from "./host/ec2Host";
export type { Ec2HostArgs } from "./host/ec2Host";
export { SshHost } from "./host/sshHost";
export type { SshHostArgs } from "./host/sshHost";
export { AppLoadBalancer } from "./host/loadBalancer";
export type { AppLoadBalancerArgs } from "./host/loadBalancer";

// The image.
export { DependencySourceKind, LispImage, toDependencySource, toSbclOrigin } from "./image/lispImage";
export type { DependencySource, DependencySourceArgs, ImagePlanOptions, LispImageArgs, LispImageRegistry, RuntimeBase, SbclOrigin, SbclOriginArgs } from "./image/lispImage";

// Releases, one family per target.
export { SystemdRelease } from "./release/systemd/systemdRelease";
export type { ExecutableFile, ExecutableInImage, ExecutableSource, HealthCheck, ReleaseSettings, ServiceType, SystemdReleaseArgs } from "./release/systemd/systemdRelease";
export type { ZeroDowntime } from "./release/systemd/zeroDowntime";
export { DeltaRelease } from "./release/systemd/deltaRelease";
export type { DeltaKind, DeltaReleaseArgs } from "./release/systemd/deltaRelease";
export { RollingRelease } from "./release/systemd/rollingRelease";
export type { RollingHost, RollingReleaseArgs } from "./release/systemd/rollingRelease";
export { LocalRelease } from "./release/local/localRelease";
export type { LocalReleaseArgs, NetworkMode } from "./release/local/localRelease";
export { HerokuRelease } from "./release/heroku/herokuRelease";
export type { HerokuHealthCheck, HerokuReleaseArgs } from "./release/heroku/herokuRelease";

// The app: one component composing an image, a host and a release for any target.
export { TargetKind, WebApp } from "./app/webApp";
export type { Ec2TargetArgs, HerokuTargetArgs, HerokuTargetHealthCheck, LocalTargetArgs, SshTargetArgs, WebAppArgs, WebAppSourceArgs, WebAppTargetArgs } from "./app/webApp";
