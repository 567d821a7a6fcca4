/**
 * What both activation scripts take (activate.sh in plain mode, activate-slot.sh in zero-downtime mode),
 * from one place so the two modes cannot drift: the release, how many to keep, the service user, whether
 * secrets arrive on stdin, the health check's timing, the release command and the rollback flag. Each
 * mode adds its own (plain: the unit and the health URL; zero-downtime: the slots and the proxy).
 */
export interface ActivationRelease {
    app: string;
    /** The executable's file name in the release directory. */
    executable: string;
    releaseId: string;
    /** The start of the executable's sha256 when the release id is its content address; the host refuses a mismatch. */
    executableDigest?: string;
    keepReleases: number;
    /** True when a secret environment file arrives on stdin. */
    hasSecrets: boolean;
    user?: string;
    expectedStatus: number;
    timeoutSeconds: number;
    startTimeoutSeconds: number;
    journalLines: number;
    /** The release command's parameters (releaseCommandParameters); none without one. */
    releaseCommand?: Record<string, string>;
    /** True when the release is a kept one named by `rollbackTo`: the host's error then lists the kept ids. */
    rollback?: boolean;
}

/** The parameters every activation script takes, all plain strings (releaseScript sorts them into the command). */
export function activationParameters(release: ActivationRelease): Record<string, string> {
    return {
        ...(release.releaseCommand ?? {}),
        ...(release.rollback ? { ROLLBACK: "1" } : {}),
        ...(release.executableDigest === undefined ? {} : { EXECUTABLE_DIGEST: release.executableDigest }),
        APP: release.app,
        EXECUTABLE: release.executable,
        RELEASE_ID: release.releaseId,
        KEEP_RELEASES: String(release.keepReleases),
        SECRET_ENV: release.hasSecrets ? "1" : "0",
        SERVICE_USER: release.user ?? "",
        HEALTH_STATUS: String(release.expectedStatus),
        HEALTH_TIMEOUT: String(release.timeoutSeconds),
        START_TIMEOUT: String(release.startTimeoutSeconds),
        JOURNAL_LINES: String(release.journalLines),
    };
}
