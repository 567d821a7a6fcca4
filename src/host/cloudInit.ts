import * as YAML from "yaml";
import { ValidationError } from "../errors";
import { checkUserName } from "../validate";

/** The reverse proxies a host may get from Debian's own archive. */
export const ReverseProxy = {
    /** Debian's `caddy` package. */
    Caddy: "caddy",
    /** Debian's `nginx` package. */
    Nginx: "nginx",
} as const;
/** The reverse proxies a host may get from Debian's own archive. */
export type ReverseProxy = (typeof ReverseProxy)[keyof typeof ReverseProxy];

/** What a host is provisioned with on first boot. Nothing here is specific to one app. */
export interface UserDataOptions {
    /** The system user the app runs as (no login shell, no password). Default `"lisp-app"`. */
    appUser?: string;
    /** Install Docker (Debian's `docker.io`) and enable it. Default false. */
    docker?: boolean;
    /** Install a reverse proxy from Debian and enable it. Default none. */
    reverseProxy?: ReverseProxy;
    /** More Debian packages to install, by name. */
    extraPackages?: string[];
    /** Upgrade the installed packages on first boot (security fixes newer than the AMI). Default true. */
    upgradePackages?: boolean;
}

/** The default app user's name; a release that runs the app uses the same name. */
export const DEFAULT_APP_USER = "lisp-app";

/**
 * The packages every Lisp executable host needs: an SBCL executable links only libc, libm, libdl and
 * (with :sb-core-compression) zlib; ca-certificates lets the app make TLS calls; curl runs health checks.
 */
export const BASE_PACKAGES: readonly string[] = ["ca-certificates", "curl", "zlib1g"];

/** journald keeps logs across reboots only when told to; a crash before a reboot must stay readable. */
export const JOURNALD_DROP_IN_PATH = "/etc/systemd/journald.conf.d/50-lisp-deploy.conf";
const JOURNALD_DROP_IN = "# Written by lisp-deploy: keep the app's logs across reboots.\n[Journal]\nStorage=persistent\n";

/**
 * Renders cloud-init user data (`#cloud-config`) for a host. Pure and deterministic: the same options
 * give the same bytes (keys in a fixed order, package lists sorted), so a preview shows no change for
 * an unchanged host, and a real change shows as a readable diff.
 */
export function renderUserData(options: UserDataOptions = {}, field = "args"): string {
    const appUser = options.appUser ?? DEFAULT_APP_USER;
    checkUserName(`${field}.appUser`, appUser);
    if (["root", "admin", "daemon", "nobody"].includes(appUser)) {
        throw new ValidationError(`${field}.appUser`, `"${appUser}" is an existing system account; choose a user only the app uses, e.g. "${DEFAULT_APP_USER}".`);
    }
    if (options.reverseProxy !== undefined && options.reverseProxy !== "caddy" && options.reverseProxy !== "nginx") {
        throw new ValidationError(`${field}.reverseProxy`, `must be "caddy" or "nginx" (both from Debian); got ${JSON.stringify(options.reverseProxy)}.`);
    }
    (options.extraPackages ?? []).forEach((p, i) => {
        // Debian policy's package name syntax; anything else would be a shell-ish injection into apt.
        if (typeof p !== "string" || !/^[a-z0-9][a-z0-9+.-]+$/.test(p)) {
            throw new ValidationError(`${field}.extraPackages[${i}]`, `${JSON.stringify(p)} is not a Debian package name; use names like "libssl3".`);
        }
    });

    const packages = new Set<string>(BASE_PACKAGES);
    if (options.docker) packages.add("docker.io");
    if (options.reverseProxy) packages.add(options.reverseProxy);
    (options.extraPackages ?? []).forEach((p) => packages.add(p));

    // Services cloud-init should start once their packages are in. Debian's packages enable their
    // services on install already; saying so again makes the host's intent readable in the diff.
    const services = [options.docker ? "docker" : undefined, options.reverseProxy].filter((s): s is string => !!s).sort();

    const config = {
        // "default" keeps the image's login user (admin on Debian AMIs) that receives the key pair.
        users: [
            "default",
            {
                name: appUser,
                gecos: "lisp-deploy application user",
                system: true,
                shell: "/usr/sbin/nologin",
                lock_passwd: true,
                no_create_home: true,
            },
        ],
        package_update: true,
        package_upgrade: options.upgradePackages ?? true,
        packages: [...packages].sort(),
        write_files: [{ path: JOURNALD_DROP_IN_PATH, owner: "root:root", permissions: "0644", content: JOURNALD_DROP_IN }],
        runcmd: [
            ["systemctl", "restart", "systemd-journald"],
            ...services.map((s) => ["systemctl", "enable", "--now", s]),
        ],
    };
    // cloud-init reads YAML 1.1 (PyYAML), where unquoted yes/no/on/off are booleans and 0644 is octal:
    // render as 1.1 so every such string is quoted (a user named "on" stays a string).
    const doc = new YAML.Document(config, { version: "1.1" });
    // One command per line ("- [systemctl, restart, systemd-journald]") reads like the shell it replaces.
    (doc.get("runcmd") as YAML.YAMLSeq).items.forEach((item) => ((item as YAML.YAMLSeq).flow = true));
    return "#cloud-config\n" + doc.toString({ lineWidth: 0 });
}
