import { activationParameters } from "./activation";
import { checkKnownKeys, checkObject, checkOneOf, checkWholeNumber, Problems } from "../../validate";
import { proxyConfigFile, renderCaddyMainConfig, renderProxyConfig, ReverseProxy, validateDomain, validateListenAddress } from "./proxy";
import { releasePaths, renderUnit, UnitSpec, validatePort } from "./unit";

/** The two slots of zero-downtime mode; a release goes to the one not serving. */
export const SLOTS = ["blue", "green"] as const;

/**
 * Zero-downtime mode of a {@link SystemdRelease}: a reverse proxy from the distribution in front of two
 * slots (`<app>-blue.service` on `port`, `<app>-green.service` on `port + 1`, both on 127.0.0.1 only).
 * With `swankPort`, each slot runs its own Swank on 127.0.0.1: blue on `swankPort`, green on `swankPort + 1`.
 */
export interface ZeroDowntime {
    /** `caddy` (default) or `nginx`; installed from the distribution on the first release when missing. */
    readonly proxy?: ReverseProxy;
    /** Public domain: HTTPS on 443 (Caddy: automatic certificates; nginx: certificates at /etc/ssl/lisp-deploy/<domain>/), port 80 redirects. */
    readonly domain?: string;
    /** Plain-HTTP port the proxy listens on when there is no domain; default 80. */
    readonly publicPort?: number;
    /** Address the proxy binds to; default every interface. */
    readonly listenAddress?: string;
    /**
     * The longest wait, in seconds, after the switch for the proxy to finish the requests it sent the old
     * slot; the old slot stops as soon as the proxy reports none in flight (Caddy's upstream request count,
     * nginx's old workers gone), and finishes whatever it still holds on SIGTERM. Default 30.
     */
    readonly drainSeconds?: number;
    /** Caddy only: port of Caddy's admin API on 127.0.0.1, through which reloads happen; default 2019. */
    readonly adminPort?: number;
}

/** Zero-downtime settings with defaults filled in, checked. */
export interface ZeroDowntimePlan {
    proxy: ReverseProxy;
    domain?: string;
    publicPort: number;
    listenAddress?: string;
    drainSeconds: number;
    adminPort: number;
    /** Port of each slot on 127.0.0.1. */
    slotPorts: { blue: number; green: number };
    /** Port of each slot's Swank on 127.0.0.1, when Swank is wanted (see {@link slotSwankPorts}). */
    swankPorts?: { blue: number; green: number };
    proxyConfigFile: string;
}

/**
 * Each slot's own Swank port: blue on `swankPort`, green on `swankPort + 1`. Both slots run side by side
 * while a release switches, so they cannot share one; a developer's tunnel keeps `swankPort` on their side
 * and reaches whichever slot is live (see SystemdRelease's `swankTunnel`).
 */
export function slotSwankPorts(swankPort: number): { blue: number; green: number } {
    return { blue: swankPort, green: swankPort + 1 };
}

/** The Swank port the user gave and where they wrote it, for {@link planZeroDowntime}. */
export interface SwankPortField {
    readonly port: number;
    readonly field: string;
}

/**
 * Plans `zeroDowntime` against the app's port (and Swank's, when given), reporting every problem at once
 * under `field` (the app's port under `portField`, Swank's under `swank.field`). Computed once per release:
 * WebApp hands this plan to the release it wires.
 * @internal
 */
export function planZeroDowntime(field: string, app: string, port: number, settings: ZeroDowntime, portField = "args.port", swank?: SwankPortField): ZeroDowntimePlan {
    const p = new Problems();
    p.check(() => checkObject(field, settings, '{ proxy: "caddy", publicPort: 80 }'));
    p.throwIfAny();
    p.check(() => checkKnownKeys(field, settings, ["proxy", "domain", "publicPort", "listenAddress", "drainSeconds", "adminPort"]));
    const proxy = settings.proxy ?? ReverseProxy.Caddy;
    p.check(() => checkOneOf(`${field}.proxy`, proxy, Object.values(ReverseProxy)));
    if (port + 1 > 65535) p.add(portField, "zero-downtime mode also uses port + 1 (the green slot): choose a port below 65535.");
    if (settings.domain !== undefined) {
        p.check(() => validateDomain(`${field}.domain`, settings.domain!));
        if (settings.publicPort !== undefined) {
            p.add(`${field}.publicPort`, "leave it out when a domain is given: the proxy then serves HTTPS on 443 and redirects 80.");
        }
    }
    const publicPort = settings.publicPort ?? 80;
    const adminPort = settings.adminPort ?? 2019;
    const portsOk = [p.check(() => (validatePort(`${field}.publicPort`, publicPort), true)), p.check(() => (validatePort(`${field}.adminPort`, adminPort), true))].every(Boolean);
    const slotPorts = { blue: port, green: port + 1 };
    const taken = settings.domain !== undefined ? [80, 443] : [publicPort];
    if (portsOk) {
        for (const [name, slotPort] of Object.entries(slotPorts)) {
            if (taken.includes(slotPort)) p.add(`${field}.publicPort`, `the ${name} slot listens on ${slotPort}; give the proxy another port (or change ${portField}).`);
        }
        if (proxy === ReverseProxy.Caddy && [...taken, port, port + 1].includes(adminPort)) {
            p.add(`${field}.adminPort`, `${adminPort} is already used by the proxy or a slot; choose another port.`);
        }
    }
    const swankPorts = swank === undefined ? undefined : slotSwankPorts(swank.port);
    if (swank !== undefined && portsOk && p.check(() => (validatePort(swank.field, swank.port), true))) {
        const others: [number, string][] = [
            [slotPorts.blue, `the blue slot's app port (${portField})`],
            [slotPorts.green, `the green slot's app port (${portField} + 1)`],
            ...taken.map((t): [number, string] => [t, settings.domain !== undefined ? `the proxy's port ${t} (with a domain)` : `the proxy's public port (${field}.publicPort)`]),
            ...(proxy === ReverseProxy.Caddy ? [[adminPort, `Caddy's admin API (${field}.adminPort)`] as [number, string]] : []),
        ];
        checkSwankPorts(p, swank, swankPorts!, others);
    }
    if (settings.listenAddress !== undefined) p.check(() => validateListenAddress(`${field}.listenAddress`, settings.listenAddress!));
    const drainSeconds = settings.drainSeconds ?? 30;
    p.check(() => checkWholeNumber(`${field}.drainSeconds`, drainSeconds, 0, 600, "seconds"));
    p.throwIfAny();
    return {
        proxy,
        domain: settings.domain,
        publicPort,
        listenAddress: settings.listenAddress,
        drainSeconds,
        adminPort,
        slotPorts,
        ...(swankPorts === undefined ? {} : { swankPorts }),
        proxyConfigFile: proxyConfigFile(proxy, app),
    };
}

/**
 * Records a problem under `swank.field` for each slot's Swank port that leaves the port range or lands on a
 * port something else on the host listens on (`others`: the port and what holds it), so every collision
 * is reported at once, each naming the ports to keep clear of and a swankPort that is.
 */
function checkSwankPorts(p: Problems, swank: SwankPortField, swankPorts: { blue: number; green: number }, others: [number, string][]): void {
    const used = [...new Set(others.map(([port]) => port))].sort((a, b) => a - b);
    const free = (n: number) => n + 1 <= 65535 && !used.includes(n) && !used.includes(n + 1);
    let suggestion = 4005;
    while (!free(suggestion)) suggestion++;
    const fix = `choose a swankPort such that neither it nor swankPort + 1 is one of ${used.join(", ")}, e.g. ${suggestion}`;
    if (swankPorts.green > 65535) {
        p.add(swank.field, `is ${swank.port}, but with zeroDowntime the green slot's Swank listens on swankPort + 1, past 65535: ${fix}.`);
    }
    for (const slot of SLOTS) {
        for (const [port, holder] of others) {
            if (swankPorts[slot] === port) {
                p.add(swank.field, `is ${swank.port}, so the ${slot} slot's Swank (${slot === "blue" ? "swankPort" : "swankPort + 1"}) would listen on ${port}, which is ${holder}: ${fix}.`);
            }
        }
    }
}

/** Both slot units, rendered from the plain-mode unit spec: only the slot, its port and its Swank port differ. */
export function renderSlotUnits(spec: UnitSpec, plan: ZeroDowntimePlan): { blue: string; green: string } {
    const unitOf = (slot: (typeof SLOTS)[number]) =>
        renderUnit({
            ...spec,
            slot,
            port: plan.slotPorts[slot],
            ...(plan.swankPorts === undefined ? {} : { environment: { ...spec.environment, SWANK_PORT: String(plan.swankPorts[slot]) } }),
        });
    return { blue: unitOf("blue"), green: unitOf("green") };
}

/**
 * The units that serve the app on a host: `<app>.service`, or in zero-downtime mode both slots' units
 * (either may be the live one, and the old one's drain is worth reading too).
 */
export function servingUnits(app: string, executable: string, zeroDowntime: boolean): string[] {
    return zeroDowntime ? SLOTS.map((slot) => releasePaths(app, executable, slot).unitName) : [releasePaths(app, executable).unitName];
}

/** The proxy config pointing at each slot; the release script writes the one for the slot it switches to. */
export function renderSlotProxyConfigs(app: string, plan: ZeroDowntimePlan): { blue: string; green: string } {
    const config = (upstreamPort: number) =>
        renderProxyConfig({
            app,
            proxy: plan.proxy,
            upstreamPort,
            domain: plan.domain,
            publicPort: plan.publicPort,
            listenAddress: plan.listenAddress,
            adminPort: plan.adminPort,
        });
    return { blue: config(plan.slotPorts.blue), green: config(plan.slotPorts.green) };
}

/** The public URL in zero-downtime mode: the proxy's, not a slot's. */
export function proxyUrl(host: string, plan: ZeroDowntimePlan): string {
    if (plan.domain !== undefined) return `https://${plan.domain}/`;
    return `http://${host}${plan.publicPort === 80 ? "" : `:${plan.publicPort}`}/`;
}

/** What activate-slot.sh needs besides the release itself (see the script's header). */
export interface SlotReleaseInputs {
    app: string;
    executable: string;
    releaseId: string;
    /** The start of the executable's sha256 when the release id is its content address; the host refuses a mismatch. */
    executableDigest?: string;
    keepReleases: number;
    units: { blue: string; green: string };
    secretEnvironment: boolean;
    user?: string;
    healthPath: string;
    expectedStatus: number;
    timeoutSeconds: number;
    startTimeoutSeconds: number;
    journalLines: number;
    /** The release command's parameters (releaseCommandParameters): empty without one. */
    releaseCommand?: Record<string, string>;
    /** True when the release is a kept one named by `rollbackTo`. */
    rollback?: boolean;
}

/** The parameters of activate-slot.sh, all plain strings (sorted into the command by releaseScript). */
export function slotActivateParams(inputs: SlotReleaseInputs, plan: ZeroDowntimePlan): Record<string, string> {
    const proxyConfigs = renderSlotProxyConfigs(inputs.app, plan);
    return {
        ...activationParameters({ ...inputs, hasSecrets: inputs.secretEnvironment }),
        UNIT_BLUE: inputs.units.blue,
        UNIT_GREEN: inputs.units.green,
        PORT_BLUE: String(plan.slotPorts.blue),
        PORT_GREEN: String(plan.slotPorts.green),
        HEALTH_PATH: inputs.healthPath,
        PROXY: plan.proxy,
        PROXY_CONFIG_FILE: plan.proxyConfigFile,
        PROXY_CONFIG_BLUE: proxyConfigs.blue,
        PROXY_CONFIG_GREEN: proxyConfigs.green,
        ...(plan.proxy === ReverseProxy.Caddy ? { PROXY_MAIN_CONFIG: renderCaddyMainConfig(plan.adminPort), PROXY_ADMIN_PORT: String(plan.adminPort) } : {}),
        DRAIN_SECONDS: String(plan.drainSeconds),
    };
}

/** The parameters of remove-slots.sh. */
export function slotRemoveParams(app: string, plan: ZeroDowntimePlan): Record<string, string> {
    return { APP: app, PROXY: plan.proxy, PROXY_CONFIG_FILE: plan.proxyConfigFile };
}
