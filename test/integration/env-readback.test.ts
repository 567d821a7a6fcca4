import * as crypto from "crypto";
import * as fc from "fast-check";
import { ValidationError } from "../../src/errors";
import { releaseScript, renderEnvironmentFile } from "../../src/release/systemd/scripts";
import { activateParameters } from "../../src/release/systemd/systemdRelease";
import { quoteEnvironmentForSystemd, renderUnit } from "../../src/release/systemd/unit";
import { requireCommand, requireDocker } from "../../support/engines";
import { SystemdHost } from "../../support/systemd-host";
import { environmentFileRefuses, environmentLineRefuses, hostileValue } from "../unit/release/systemd/env-readback.fixtures";

/**
 * Issue 19, item 2: every environment value a release renders reaches the app exactly as given, read back
 * by systemd itself. Plain values go through renderUnit into `Environment=` lines, secret values through
 * renderEnvironmentFile into the 0600 `EnvironmentFile=`; activate.sh (rendered by releaseScript with
 * activateParameters, the secret file on stdin, exactly as SystemdRelease runs it) installs both on a real
 * systemd 252 host over real SSH and starts the unit. The app is a tiny Perl program (the host has
 * perl-base) that writes the environment it received, byte for byte, into its cache directory, then
 * answers the health check. Each generated case is one activation carrying dozens of values, so the
 * number of round trips stays small.
 */
const APP = "envback";
const PORT = 18940;
const SSH_PORT = 2296;
/** Where the app's dump lands: its CacheDirectory= under DynamicUser= (HOME points there). */
const DUMP = `/var/cache/private/${APP}/env.dump`;

/** Writes %ENV as NAME=value NUL-terminated records into $HOME/env.dump (raw bytes), then serves 200. */
const dumper = `#!/usr/bin/perl
use strict; use warnings; use IO::Socket::INET;
open(my $f, ">:raw", "$ENV{HOME}/env.dump.new") or die "dump: $!";
print $f "$_=$ENV{$_}\\0" for sort keys %ENV;
close($f) or die "dump: $!";
rename("$ENV{HOME}/env.dump.new", "$ENV{HOME}/env.dump") or die "dump: $!";
my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ENV{PORT}, Listen => 16, ReuseAddr => 1) or die "listen: $!";
while (my $c = $s->accept) {
  while (my $l = <$c>) { last if $l =~ /^\\r?\\n$/; }
  print $c "HTTP/1.0 200 OK\\r\\nContent-Length: 3\\r\\nConnection: close\\r\\n\\r\\nok\\n";
  close $c;
}
`;
const RELEASE_ID = crypto.createHash("sha256").update(dumper).digest("hex").slice(0, 12);
const plan = { keepReleases: 3, healthPath: "/", expectedStatus: 200, timeoutSeconds: 20, startTimeoutSeconds: 20, journalLines: 20 };

let host: SystemdHost;

beforeAll(async () => {
    requireDocker();
    for (const cmd of ["ssh", "ssh-keygen"]) requireCommand(cmd, "openssh-client");
    host = await SystemdHost.start("env-readback-host", SSH_PORT);
    expect((await host.ssh(releaseScript("prepare", { APP, RELEASE_ID }))).code).toBe(0);
    expect((await host.ssh(`cat > /opt/${APP}/releases/${RELEASE_ID}/.upload-app`, dumper)).code).toBe(0);
}, 5 * 60 * 1000);

afterAll(async () => {
    await host?.stop();
});

/**
 * Renders a unit with `environment` (plain) and, when `secrets` is given, the secret file, activates them
 * as SystemdRelease does, and returns the environment the app received, as raw bytes per name.
 */
async function received(environment: Record<string, string>, secrets: Record<string, string> | undefined, unitText?: string): Promise<Map<string, Buffer>> {
    const unit = unitText ?? renderUnit({ app: APP, executable: "app", type: "exec", port: PORT, environment, environmentFile: secrets !== undefined });
    await host.exec("rm", "-f", DUMP);
    const command = releaseScript(
        "activate",
        activateParameters({ app: APP, port: PORT }, plan, { releaseId: RELEASE_ID, executableName: "app", unitText: unit, hasSecrets: secrets !== undefined, executableDigest: RELEASE_ID }),
    );
    const run = await host.ssh(command, secrets === undefined ? undefined : renderEnvironmentFile(secrets));
    if (run.code !== 0) throw new Error(`activate.sh failed (${run.code}):\n${run.stderr}`);
    const dump = await host.exec("base64", "-w0", DUMP);
    if (dump.code !== 0) throw new Error(`no dump from the app: ${dump.stderr}`);
    const bytes = Buffer.from(dump.stdout.trim(), "base64");
    const env = new Map<string, Buffer>();
    let start = 0;
    for (let end = bytes.indexOf(0, start); end >= 0; start = end + 1, end = bytes.indexOf(0, start)) {
        const record = bytes.subarray(start, end);
        const eq = record.indexOf("=");
        env.set(record.subarray(0, eq).toString("latin1"), Buffer.from(record.subarray(eq + 1)));
    }
    return env;
}

/** Asserts each given value arrived byte for byte (its UTF-8 form), naming the variable when not. */
function expectExactly(env: Map<string, Buffer>, given: Record<string, string>): void {
    for (const [name, value] of Object.entries(given)) {
        const got = env.get(name);
        expect({ name, got: got?.toString("hex") }).toEqual({ name, got: Buffer.from(value, "utf8").toString("hex") });
    }
}

/** Variable names, distinct from the ones the unit sets itself (HOME, PORT) and systemd's own. */
const names = (prefix: string) => fc.uniqueArray(fc.stringMatching(/^[A-Z][A-Z0-9_]{0,10}$/).map((n) => `${prefix}${n}`), { minLength: 1, maxLength: 30 });
const values = (n: number) => fc.array(hostileValue, { minLength: n, maxLength: n });
const environmentCase = fc
    .tuple(names("P_"), names("S_"))
    .chain(([plainNames, secretNames]) =>
        fc.tuple(values(plainNames.length), values(secretNames.length)).map(([pv, sv]) => ({
            plain: Object.fromEntries(plainNames.map((n, i) => [n, pv[i]])),
            secret: Object.fromEntries(secretNames.map((n, i) => [n, sv[i]])),
        })),
    );

describe("environment values read back by systemd on a real host (activate.sh over SSH)", () => {
    test("property: every value not refused reaches the app exactly, through Environment= and through the EnvironmentFile=", async () => {
        let checked = 0;
        let refused = 0;
        await fc.assert(
            fc.asyncProperty(environmentCase, async ({ plain, secret }) => {
                // The renderers refuse exactly the values the documented rules refuse, naming the variable.
                const plainKept: Record<string, string> = {};
                for (const [name, value] of Object.entries(plain)) {
                    const refusal = environmentLineRefuses(value);
                    let error: unknown;
                    try {
                        renderUnit({ app: APP, executable: "app", type: "exec", port: PORT, environment: { [name]: value }, environmentFile: false });
                    } catch (e) {
                        error = e;
                    }
                    expect({ value, refused: error !== undefined }).toEqual({ value, refused: refusal });
                    if (error) {
                        expect(error).toBeInstanceOf(ValidationError);
                        expect((error as ValidationError).field).toBe(`environment.${name}`);
                        refused++;
                    } else plainKept[name] = value;
                }
                const secretKept: Record<string, string> = {};
                for (const [name, value] of Object.entries(secret)) {
                    let error: unknown;
                    try {
                        renderEnvironmentFile({ [name]: value });
                    } catch (e) {
                        error = e;
                    }
                    expect({ value, refused: error !== undefined }).toEqual({ value, refused: environmentFileRefuses(value) });
                    if (error) {
                        expect(error).toBeInstanceOf(ValidationError);
                        expect((error as ValidationError).field).toBe(`args.secretEnvironment.${name}`);
                        refused++;
                    } else secretKept[name] = value;
                }

                const env = await received(plainKept, secretKept);
                expectExactly(env, plainKept);
                expectExactly(env, secretKept);
                // What the unit sets itself is still there, untouched by anything the values held.
                expect(env.get("PORT")?.toString()).toBe(String(PORT));
                expect(env.get("HOME")?.toString()).toBe(`/var/cache/${APP}`);
                // Nothing else appeared: no value spilled over into a variable of its own.
                const ours = [...env.keys()].filter((n) => n.startsWith("P_") || n.startsWith("S_"));
                expect(ours.sort()).toEqual([...Object.keys(plainKept), ...Object.keys(secretKept)].sort());
                checked += Object.keys(plainKept).length + Object.keys(secretKept).length;
            }),
            {
                numRuns: 6,
                // The values issue 19 found mishandled, and the ones systemd's parsers read specially.
                examples: [
                    [
                        {
                            plain: { P_DB: "pg://u:p%40ss@db/x", P_SPEC: "%n %H %%", P_CMD: "$$(id) ${HOME} $HOME `id`", P_EMPTY: "", P_PAD: "  both ends  ", P_HASH: "#not a comment", P_SEMI: ";nor this", P_EQ: "a=b=c", P_BS: "ends in \\", P_Q: "'\"'\"" },
                            secret: { S_DB: "pg://u:p%40ss@db/x", S_CMD: "$(id) ${HOME} $HOME `id`", S_PEM: "-----BEGIN KEY-----\nAAAA\r\n-----END KEY-----\n", S_EMPTY: "", S_PAD: "  both ends  ", S_HASH: "#x", S_BS: "\\", S_BSNL: "a\\\nb", S_Q: "\"'", S_CTRL: "\x01\x1b[31m\x7f\t" },
                        },
                    ],
                ],
            },
        );
        // The property ran on real values, not only on refusals.
        expect(checked).toBeGreaterThan(50);
        expect(refused).toBeGreaterThan(0);
    }, 10 * 60 * 1000);

    test("a newline or carriage return is representable in Environment= (renderUnit's \\xNN escapes): refusing it there is a choice, not a limit", async () => {
        // Hand-made lines with the renderer's own quoting, in the unit renderUnit writes for an empty environment.
        const base = renderUnit({ app: APP, executable: "app", type: "exec", port: PORT, environment: {}, environmentFile: false });
        const lines = { P_NL: "one\ntwo", P_CR: "one\rtwo", P_CRLF: "x\r\n" };
        const unit = base.replace("Environment=HOME=", `${Object.entries(lines).map(([n, v]) => `Environment=${quoteEnvironmentForSystemd(`${n}=${v}`)}`).join("\n")}\nEnvironment=HOME=`);
        expect(unit).toContain('Environment="P_NL=one\\x0atwo"');
        expectExactly(await received({}, undefined, unit), lines);
    }, 120_000);

    test("a Unicode noncharacter in the EnvironmentFile= is why it is refused: systemd would not start the unit at all", async () => {
        // Written by hand (renderEnvironmentFile refuses it): systemd's env-file parser fails the whole start.
        const unit = renderUnit({ app: APP, executable: "app", type: "exec", port: PORT, environment: {}, environmentFile: true });
        const command = releaseScript("activate", activateParameters({ app: APP, port: PORT }, plan, { releaseId: RELEASE_ID, executableName: "app", unitText: unit, hasSecrets: true, executableDigest: RELEASE_ID }));
        const r = await host.ssh(command, 'S_OK="fine"\nS_BAD="a\uFFFEb"\n');
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("failed its health check");
        const journal = await host.exec("journalctl", "--unit", `${APP}.service`, "--no-pager", "--lines", "50");
        expect(journal.stdout).toMatch(/Invalid argument|not UTF-8 clean|UTF-8/);
    }, 180_000);
});
