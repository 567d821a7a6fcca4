import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Manifest media types a registry may store; Heroku accepts only Docker's schema 2 manifest. */
export const MEDIA_TYPES = {
    dockerSchema2: "application/vnd.docker.distribution.manifest.v2+json",
    dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
    ociManifest: "application/vnd.oci.image.manifest.v1+json",
    ociIndex: "application/vnd.oci.image.index.v1+json",
} as const;

/** A manifest as the registry serves it. */
export interface FetchedManifest {
    /** The Content-Type the registry answered with. */
    mediaType: string;
    /** The Docker-Content-Digest header. */
    digest: string;
    /** The parsed manifest. */
    body: any;
}

/**
 * A real container registry (Debian's `docker-registry`, the CNCF distribution registry) on 127.0.0.1,
 * storing into a temp directory, optionally with htpasswd (bcrypt) basic auth so a test can prove the
 * password really reached `docker login`. Docker treats 127.0.0.0/8 registries as insecure-allowed, so
 * plain HTTP works without daemon configuration.
 */
export class LocalRegistry {
    private proc?: ChildProcess;
    private dir?: string;
    private log = "";

    constructor(
        /** Port in the suite's range. */
        readonly port: number,
        /** If set, the registry requires this user and password. */
        private readonly auth?: { user: string; password: string },
    ) {}

    /** host:port, what `docker push` and HerokuRelease's registryHost take. */
    get host(): string {
        return `127.0.0.1:${this.port}`;
    }

    async start(): Promise<void> {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "heroku-registry-"));
        const lines = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "storage:",
            "  filesystem:",
            `    rootdirectory: ${path.join(this.dir, "data")}`,
            "  delete:",
            "    enabled: true",
            "http:",
            `  addr: 127.0.0.1:${this.port}`,
        ];
        if (this.auth) {
            // bcrypt is the only hash the registry's htpasswd accepts; python3's crypt makes it (Debian's libxcrypt).
            const hash = execFileSync("python3", [
                "-W",
                "ignore",
                "-c",
                "import crypt,sys; print(crypt.crypt(sys.stdin.read(), crypt.mksalt(crypt.METHOD_BLOWFISH)))",
            ], { input: this.auth.password, encoding: "utf8" }).trim();
            fs.writeFileSync(path.join(this.dir, "htpasswd"), `${this.auth.user}:${hash}\n`, { mode: 0o600 });
            lines.push("auth:", "  htpasswd:", "    realm: heroku-test", `    path: ${path.join(this.dir, "htpasswd")}`);
        }
        const config = path.join(this.dir, "config.yml");
        fs.writeFileSync(config, lines.join("\n") + "\n");
        this.proc = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "pipe", "pipe"] });
        this.proc.stdout!.on("data", (d) => (this.log += d));
        this.proc.stderr!.on("data", (d) => (this.log += d));
        const deadline = Date.now() + 20_000;
        for (;;) {
            if (this.proc.exitCode !== null) throw new Error(`docker-registry exited: ${this.log}`);
            try {
                const r = await fetch(`http://${this.host}/v2/`);
                if (r.status === 200 || r.status === 401) return;
            } catch {
                /* not listening yet */
            }
            if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${this.host}: ${this.log}`);
            await new Promise((r) => setTimeout(r, 100));
        }
    }

    async stop(): Promise<void> {
        if (this.proc && this.proc.exitCode === null) {
            const exited = new Promise((r) => this.proc!.once("exit", r));
            this.proc.kill("SIGTERM");
            await exited;
        }
        if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    }

    private headers(accept?: string): Record<string, string> {
        const h: Record<string, string> = {};
        if (accept) h.Accept = accept;
        if (this.auth) h.Authorization = "Basic " + Buffer.from(`${this.auth.user}:${this.auth.password}`).toString("base64");
        return h;
    }

    /**
     * Fetches a manifest over the registry's HTTP API, accepting every manifest type, so the answer shows
     * what was really stored (an index would come back as an index, not be hidden by content negotiation).
     */
    async manifest(repository: string, reference: string): Promise<FetchedManifest> {
        const r = await fetch(`http://${this.host}/v2/${repository}/manifests/${reference}`, {
            headers: this.headers(Object.values(MEDIA_TYPES).join(", ")),
        });
        if (!r.ok) throw new Error(`GET manifest ${repository}:${reference} answered ${r.status}: ${await r.text()}`);
        return { mediaType: r.headers.get("content-type") ?? "", digest: r.headers.get("docker-content-digest") ?? "", body: await r.json() };
    }

    /** The tags of a repository. */
    async tags(repository: string): Promise<string[]> {
        const r = await fetch(`http://${this.host}/v2/${repository}/tags/list`, { headers: this.headers() });
        if (!r.ok) throw new Error(`GET tags of ${repository} answered ${r.status}`);
        return ((await r.json()) as { tags: string[] }).tags ?? [];
    }
}
