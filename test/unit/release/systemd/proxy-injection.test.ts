import * as fc from "fast-check";
import { ValidationError } from "../../../../src/errors";
import { nginxCertificatePaths, renderCaddyMainConfig, renderProxyConfig, ReverseProxy } from "../../../../src/release/systemd/proxy";
import { caddyAdapt, nginxTest } from "../../consumers";

// Issue 19: the zero-downtime proxy configs read back by the proxies themselves (`caddy adapt`, `nginx -t`),
// for arbitrary app names, domains and listen addresses: either the value is refused naming its field, or
// the proxy parses the config and sends traffic to exactly 127.0.0.1:<upstreamPort>, nothing else.

const hostile = fc.oneof(
    fc.string({ unit: "binary", maxLength: 16 }),
    fc.array(fc.constantFrom("a", "z", "0", "-", ".", "_", "{", "}", ";", "\n", "#", " ", "$host", "'", '"', "\\", "*", "/", ":", "127.0.0.1", "example.com"), { minLength: 1, maxLength: 6 }).map((p) => p.join("")),
);
// Valid-looking values weigh more, so that enough specs reach the proxies; hostile ones must be refused.
const appName = fc.oneof({ arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/), weight: 3 }, { arbitrary: hostile, weight: 1 });
const domain = fc.option(fc.oneof({ arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,8}\.(example\.com|test)$/), weight: 3 }, { arbitrary: hostile, weight: 1 }), { nil: undefined });
// `nginx -t` binds the listen sockets it parses (briefly): only addresses of this machine, and ports of
// this suite's own range (CONTRIBUTING.md), so it never meets another suite's server.
const listenAddress = fc.option(fc.oneof({ arbitrary: fc.constantFrom("127.0.0.1", "0.0.0.0"), weight: 3 }, { arbitrary: hostile, weight: 1 }), { nil: undefined });
const port = fc.integer({ min: 18950, max: 18999 });

/** Renders, or returns the refusing field (which must be one the spec has). */
function renderOrRefuse(spec: Parameters<typeof renderProxyConfig>[0]): string | { refused: string } {
    try {
        return renderProxyConfig(spec);
    } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        expect((e as ValidationError).field).toMatch(/^(app|domain|listenAddress|upstreamPort|publicPort|adminPort)$/);
        return { refused: (e as ValidationError).field };
    }
}

/** Every `dial` address of Caddy's reverse_proxy handlers in an adapted config. */
function caddyUpstreams(config: any): string[] {
    const found: string[] = [];
    const walk = (v: any): void => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === "object") {
            if (v.handler === "reverse_proxy") for (const u of v.upstreams ?? []) found.push(u.dial);
            Object.values(v).forEach(walk);
        }
    };
    walk(config);
    return found;
}

test("Caddy: every accepted spec adapts, with the admin API on 127.0.0.1 and the one upstream given", () => {
    const specs = fc.sample(fc.record({ app: appName, domain, listenAddress, upstreamPort: port, publicPort: port, adminPort: port }), { numRuns: 120, seed: 1919 });
    let accepted = 0;
    for (const s of specs) {
        const text = renderOrRefuse({ ...s, proxy: ReverseProxy.Caddy });
        if (typeof text !== "string") continue;
        accepted++;
        // The app's site as the main Caddyfile imports it (Caddy's import is textual inclusion).
        const config = caddyAdapt(renderCaddyMainConfig(s.adminPort).replace(/^import .*$/m, text));
        expect(config.admin.listen).toBe(`127.0.0.1:${s.adminPort}`);
        expect(caddyUpstreams(config)).toEqual([`127.0.0.1:${s.upstreamPort}`]);
    }
    expect(accepted).toBeGreaterThan(30);
});

test("nginx: every accepted spec passes nginx -t, proxying to the one upstream given", () => {
    const specs = fc.sample(fc.record({ app: appName, domain, listenAddress, upstreamPort: port, publicPort: port, adminPort: port }), { numRuns: 120, seed: 1920 });
    let accepted = 0;
    for (const s of specs) {
        const text = renderOrRefuse({ ...s, proxy: ReverseProxy.Nginx });
        if (typeof text !== "string") continue;
        accepted++;
        const result = nginxTest(text);
        if (s.domain === undefined) {
            expect(result).toEqual({ ok: true, output: "" });
        } else {
            // The certificate is put on the host before the first release; here nginx has parsed the whole
            // config and stops at loading it, which shows the directives are the ones we wrote.
            const cert = nginxCertificatePaths(s.domain).certificate;
            expect(result.output).toContain(`cannot load certificate "${cert}"`);
        }
        // The upstream's servers, and where every location proxies to: one upstream, one server in it.
        expect(text.match(/^\s*server\s+[^{\s][^;]*;\s*$/gm)).toEqual([`\tserver 127.0.0.1:${s.upstreamPort};`]);
        const upstreams = [...text.matchAll(/^upstream (\S+) \{$/gm)].map((m) => m[1]);
        expect(upstreams).toHaveLength(1);
        expect(new Set([...text.matchAll(/proxy_pass (\S+);/g)].map((m) => m[1]))).toEqual(new Set([`http://${upstreams[0]}`]));
    }
    expect(accepted).toBeGreaterThan(30);
});
