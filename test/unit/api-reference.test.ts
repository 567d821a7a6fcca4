import * as fs from "fs";
import * as path from "path";

// docs/api-reference.md is generated from the package schema (scripts/api-reference.js, `npm run docs`).
// This test regenerates it in memory and fails when the committed page differs, so the reference can
// only be as old as the commit; it also checks that what the schema hands other languages says something.

interface Generated {
    markdown: string;
    schema: { resources: Record<string, any>; types: Record<string, any> };
}
// Plain JavaScript (it runs without a build), so loaded with require and typed here.
const reference = require("../../scripts/api-reference.js") as {
    generate(): Promise<Generated>;
    defaultOf(description: string | undefined): string | undefined;
    cell(text: string): string;
    OUT: string;
};

let generated: Generated;
beforeAll(async () => {
    generated = await reference.generate();
}, 180000);

describe("docs/api-reference.md", () => {
    test("is what `npm run docs` generates from the current source (else run `npm run docs` and commit)", () => {
        const committed = fs.existsSync(reference.OUT) ? fs.readFileSync(reference.OUT, "utf8") : "";
        if (committed !== generated.markdown) {
            const a = committed.split("\n");
            const b = generated.markdown.split("\n");
            let i = 0;
            while (i < Math.max(a.length, b.length) && a[i] === b[i]) i++;
            throw new Error(
                `${path.relative(path.resolve(__dirname, "../.."), reference.OUT)} is stale: run \`npm run docs\` and commit it.\n` +
                    `first difference at line ${i + 1}:\n  committed: ${a[i] ?? "(end of file)"}\n  generated: ${b[i] ?? "(end of file)"}`,
            );
        }
    });

    test("has a section for every component of the schema, with its arguments and outputs", () => {
        for (const [token, resource] of Object.entries(generated.schema.resources)) {
            const name = token.split(":").pop()!;
            const section = generated.markdown.split(`\n## ${name}\n`)[1]?.split("\n## ")[0];
            expect({ name, section: section !== undefined }).toEqual({ name, section: true });
            for (const field of [...Object.keys(resource.inputProperties), ...Object.keys(resource.properties)]) {
                expect({ name, field, listed: section!.includes(`| \`${field}\` |`) }).toEqual({ name, field, listed: true });
            }
        }
    });

    test("lists the fields WebApp and LispImage gained for apps without lisp-deploy's runtime", () => {
        const types = generated.markdown.split("\n### WebAppSourceArgs\n")[1].split("\n### ")[0];
        expect(types).toMatch(/\| `serviceType` \| \[ServiceType\]\(#servicetype\) \| no \| `notify` when the app depends/);
        expect(types).toMatch(/\| `startTimeoutSeconds` \| number \| no \| 30 \|/);
        const image = generated.markdown.split("\n## LispImage\n")[1].split("\n## ")[0];
        expect(image).toMatch(/\| `notifiesReadiness` \| boolean \| Whether the executable sends systemd READY=1/);
    });
});

describe("the schema other languages get says something about every field", () => {
    const described = (what: string, description: unknown) => ({ what, ok: typeof description === "string" && description.trim().length >= 8 && !description.includes("[object Object]") });

    test("every component has a description, and so does every input and output", () => {
        for (const [token, r] of Object.entries(generated.schema.resources)) {
            expect(described(token, r.description)).toEqual({ what: token, ok: true });
            for (const [field, p] of Object.entries<any>({ ...r.properties })) expect(described(`${token} output ${field}`, p.description)).toEqual({ what: `${token} output ${field}`, ok: true });
            for (const [field, p] of Object.entries<any>(r.inputProperties)) {
                // RollingRelease's args come through Omit<SystemdReleaseArgs, ...>, which the inference types as
                // Any without docs; the page takes their docs from the TypeScript declarations instead.
                if (token.endsWith(":RollingRelease") && p.$ref === "pulumi.json#/Any") continue;
                expect(described(`${token} input ${field}`, p.description)).toEqual({ what: `${token} input ${field}`, ok: true });
            }
        }
    });

    test("every field of every object type, and every enum value, has a description", () => {
        for (const [token, t] of Object.entries(generated.schema.types)) {
            for (const [field, p] of Object.entries<any>(t.properties ?? {})) expect(described(`${token}.${field}`, p.description)).toEqual({ what: `${token}.${field}`, ok: true });
            for (const e of t.enum ?? []) expect(described(`${token} ${e.value}`, e.description)).toEqual({ what: `${token} ${e.value}`, ok: true });
        }
    });

    test("the page gives every field a description, including those the schema lost", () => {
        const rows = generated.markdown.split("\n").filter((l) => /^\| `[^`]+` \|/.test(l));
        expect(rows.length).toBeGreaterThan(150);
        for (const row of rows) expect({ row, empty: /\|\s*\|$/.test(row) }).toEqual({ row, empty: false });
    });
});

describe("defaults, read from the doc comments", () => {
    test.each([
        ["sshd's port. Default 22.", "22"],
        ['The login user. Default "admin".', '"admin"'],
        ["The health check; defaults: `/`, 200, 30 s.", "`/`, 200, 30 s"],
        ["The system to build (default: the only `.asd` at the top of appDir).", "the only `.asd` at the top of appDir"],
        ["Compress the executable's core (default false: starts faster; true: a file about 4x smaller).", "false"],
        ["Default `PORT` of the runtime image (default 8080).", "8080"],
        ['"bridge" (default) publishes the port on 127.0.0.1.', '"bridge"'],
        ["Zero-downtime mode. Off by default.", "off"],
        ["Default: from `notifiesReadiness` (see `unitTypeFor`); wins over it when given.", "from `notifiesReadiness` (see `unitTypeFor`)"],
        ["Region of a created app; Heroku's default when unset.", undefined],
        ["Tags, merged after `Name` (which defaults to the component's name).", undefined],
        ["More Debian packages to install on first boot.", undefined],
    ])("%s -> %s", (doc, expected) => {
        expect(reference.defaultOf(doc)).toBe(expected);
    });

    test("table cells stay one line, with pipes escaped and angle brackets shown outside code", () => {
        expect(reference.cell("a | b\n  on 127.0.0.1:<port>, `/opt/<app>`")).toBe("a \\| b on 127.0.0.1:&lt;port&gt;, `/opt/<app>`");
    });
});
