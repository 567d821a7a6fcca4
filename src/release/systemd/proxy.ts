import { ValidationError } from "../../errors";
import { ReverseProxy } from "../../host/cloudInit";
import { validateAppName, validatePort } from "./unit";

// The same enum Ec2Host's `reverseProxy` user-data option installs, so one schema type serves both.
export { ReverseProxy };

/** Everything a proxy config needs: plain data, so the renderers stay pure and previews show the text. */
export interface ProxySpec {
    /** The app's name; names the nginx upstream and the config file. */
    app: string;
    /** Which proxy. */
    proxy: ReverseProxy;
    /** The port on 127.0.0.1 of the slot that should receive traffic. */
    upstreamPort: number;
    /** Public domain: HTTPS on 443 (Caddy obtains the certificate; nginx reads it from the documented path), HTTP on 80 redirects. */
    domain?: string;
    /** Plain-HTTP port the proxy listens on when there is no domain. */
    publicPort: number;
    /** Address the proxy binds to; undefined means every interface. */
    listenAddress?: string;
    /** Caddy only: port of its admin API on 127.0.0.1 (written into the main Caddyfile, see {@link renderCaddyMainConfig}). */
    adminPort: number;
}

/**
 * Where this app's own proxy config lives on the host: one file per app, so two zero-downtime apps on one
 * host never overwrite each other. nginx reads every file in conf.d; Caddy reads the one Caddyfile, which
 * lisp-deploy owns and which imports every app's file (see {@link renderCaddyMainConfig}).
 */
export function proxyConfigFile(proxy: ReverseProxy, app: string): string {
    return proxy === ReverseProxy.Caddy ? `${CADDY_APPS_DIR}/${app}.caddy` : `/etc/nginx/conf.d/lisp-deploy-${app}.conf`;
}

/** Caddy's own config file (what `systemctl reload caddy` reads). */
export const CADDY_MAIN_CONFIG_FILE = "/etc/caddy/Caddyfile";
/** The directory of the per-app Caddy site files the main Caddyfile imports. */
export const CADDY_APPS_DIR = "/etc/caddy/lisp-deploy";

/**
 * The main Caddyfile: only Caddy's global options and the import of every app's site file. Every app's
 * activation writes the same text (apps on one host give the same `adminPort`), so none owns another's site.
 */
export function renderCaddyMainConfig(adminPort: number): string {
    validatePort("adminPort", adminPort);
    return [
        "# Rendered by lisp-deploy (SystemdRelease zero-downtime mode); each app's site is its own file below.",
        "{",
        // The admin API is how `systemctl reload caddy` applies a new config, and where the release asks
        // Caddy how many requests it still has in flight to the old slot (/reverse_proxy/upstreams).
        `\tadmin 127.0.0.1:${adminPort}`,
        "}",
        "",
        `import ${CADDY_APPS_DIR}/*.caddy`,
        "",
    ].join("\n");
}

/**
 * Where nginx reads the certificate of `domain`: put the chain and key there (e.g. certbot's
 * `--deploy-hook` copying from /etc/letsencrypt/live/<domain>/) before the first release.
 */
export function nginxCertificatePaths(domain: string) {
    return { certificate: `/etc/ssl/lisp-deploy/${domain}/fullchain.pem`, key: `/etc/ssl/lisp-deploy/${domain}/privkey.pem` };
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** Checks a domain name (lower case, at least one dot): it ends up in proxy configs and file paths. */
export function validateDomain(field: string, domain: string): void {
    if (!DOMAIN.test(domain)) {
        throw new ValidationError(field, `must be a lower-case DNS name such as "app.example.com"; got ${JSON.stringify(domain)}.`);
    }
}

/** Checks an IPv4 listen address. */
export function validateListenAddress(field: string, address: string): void {
    if (!IPV4.test(address)) {
        throw new ValidationError(field, `must be an IPv4 address such as "127.0.0.1" or "0.0.0.0"; got ${JSON.stringify(address)}.`);
    }
}

/** Renders this app's proxy config pointing at one slot; the release script writes it and reloads the proxy. */
export function renderProxyConfig(spec: ProxySpec): string {
    // The app name is written into a comment line and the nginx upstream's name: a newline would add directives.
    validateAppName("app", spec.app);
    if (spec.proxy !== ReverseProxy.Caddy && spec.proxy !== ReverseProxy.Nginx) {
        throw new ValidationError("proxy", `must be "caddy" or "nginx"; got ${JSON.stringify(spec.proxy)}.`);
    }
    validatePort("upstreamPort", spec.upstreamPort);
    validatePort("publicPort", spec.publicPort);
    if (spec.domain !== undefined) validateDomain("domain", spec.domain);
    if (spec.listenAddress !== undefined) validateListenAddress("listenAddress", spec.listenAddress);
    return spec.proxy === ReverseProxy.Caddy ? renderCaddyfile(spec) : renderNginxConfig(spec);
}

function renderCaddyfile(spec: ProxySpec): string {
    validatePort("adminPort", spec.adminPort);
    // Without a domain the site is plain HTTP on publicPort ("http://" turns automatic HTTPS off for it).
    const site = spec.domain ?? `http://:${spec.publicPort}`;
    return [
        `# Rendered by lisp-deploy (SystemdRelease zero-downtime mode) for ${spec.app}; the next release overwrites it.`,
        `${site} {`,
        ...(spec.listenAddress !== undefined ? [`\tbind ${spec.listenAddress}`] : []),
        `\treverse_proxy 127.0.0.1:${spec.upstreamPort}`,
        "}",
        "",
    ].join("\n");
}

function renderNginxConfig(spec: ProxySpec): string {
    const upstream = `lisp_deploy_${spec.app.replace(/-/g, "_")}`;
    const listen = (port: number, extra = "") => `\tlisten ${spec.listenAddress !== undefined ? `${spec.listenAddress}:` : ""}${port}${extra};`;
    const proxied = [
        "\tlocation / {",
        `\t\tproxy_pass http://${upstream};`,
        // HTTP/1.1 with an empty Connection header keeps upstream connections alive between requests.
        "\t\tproxy_http_version 1.1;",
        '\t\tproxy_set_header Connection "";',
        "\t\tproxy_set_header Host $host;",
        "\t\tproxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "\t\tproxy_set_header X-Forwarded-Proto $scheme;",
        "\t}",
    ];
    const lines = [
        `# Rendered by lisp-deploy (SystemdRelease zero-downtime mode) for ${spec.app}; the next release overwrites it.`,
        `upstream ${upstream} {`,
        `\tserver 127.0.0.1:${spec.upstreamPort};`,
        "\tkeepalive 16;",
        "}",
        "",
    ];
    if (spec.domain === undefined) {
        lines.push("server {", listen(spec.publicPort), ...proxied, "}", "");
    } else {
        const cert = nginxCertificatePaths(spec.domain);
        lines.push(
            "server {",
            listen(80),
            `\tserver_name ${spec.domain};`,
            "\treturn 301 https://$host$request_uri;",
            "}",
            "",
            "server {",
            listen(443, " ssl"),
            `\tserver_name ${spec.domain};`,
            `\tssl_certificate ${cert.certificate};`,
            `\tssl_certificate_key ${cert.key};`,
            ...proxied,
            "}",
            "",
        );
    }
    return lines.join("\n");
}
