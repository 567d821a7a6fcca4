import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import dockerignore from "@balena/dockerignore";

/**
 * The build context as data: every file with its path inside the context, its mode and its bytes.
 * Planning and writing are separate so tests can inspect (and hash) exactly what Docker will see.
 */
export interface ContextFile {
    /** Path inside the context, `/`-separated, no leading `./`. */
    readonly path: string;
    /** 0o644 or 0o755: only the executable bit of the source survives, so umasks and owners never leak in. */
    readonly mode: number;
    /** The file's bytes. */
    readonly content: Buffer;
}

/** Directories never copied from an app tree: version control, package caches, our own generated output. */
const NEVER_COPIED = new Set([".git", ".hg", ".svn", "node_modules", ".lisp-deploy", ".qlot"]);

/** Compiled Lisp files are build output of somebody's machine, never sources. */
const NEVER_COPIED_SUFFIXES = [".fasl", ".fas", ".lib", ".x86f", ".dx64fsl", ".lx64fsl", "~"];

/**
 * Collects the files under `sourceDir` into the context below `targetPrefix`, sorted by path.
 * `.dockerignore` in `sourceDir` is honoured (with Docker's own matching rules), and so are `exclude`
 * paths (absolute or relative to the current directory) such as a context directory inside the app.
 */
export function collectTree(sourceDir: string, targetPrefix: string, exclude: readonly string[] = []): ContextFile[] {
    const ignoreFile = path.join(sourceDir, ".dockerignore");
    const ignore = dockerignore().add(fs.existsSync(ignoreFile) ? fs.readFileSync(ignoreFile, "utf8").split(/\r?\n/) : []);
    const excluded = new Set(exclude.map((e) => path.resolve(e)));
    const files: ContextFile[] = [];
    const walk = (relative: string): void => {
        const absolute = path.join(sourceDir, relative);
        if (excluded.has(path.resolve(absolute))) return;
        const entries = fs.readdirSync(absolute, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const entry of entries) {
            const child = relative === "" ? entry.name : `${relative}/${entry.name}`;
            if (ignore.ignores(child)) continue;
            const childAbsolute = path.join(sourceDir, child);
            const stat = fs.statSync(childAbsolute); // follows symlinks: the context holds their targets' content
            if (stat.isDirectory()) {
                if (!NEVER_COPIED.has(entry.name)) walk(child);
            } else if (stat.isFile() && !NEVER_COPIED_SUFFIXES.some((s) => entry.name.endsWith(s))) {
                if (excluded.has(path.resolve(childAbsolute))) continue;
                files.push({
                    path: `${targetPrefix}/${child}`,
                    mode: stat.mode & 0o111 ? 0o755 : 0o644,
                    content: fs.readFileSync(childAbsolute),
                });
            }
        }
    };
    walk("");
    return files;
}

/** A generated text file of the context. */
export function textFile(contextPath: string, text: string, mode = 0o644): ContextFile {
    return { path: contextPath, mode, content: Buffer.from(text, "utf8") };
}

/** Sorts by path and rejects duplicates (two sources writing one path would make the context ambiguous). */
export function sortContext(files: readonly ContextFile[]): ContextFile[] {
    const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
        if (sorted[i].path === sorted[i - 1].path) throw new Error(`two files would be written to ${sorted[i].path} in the build context`);
    }
    return sorted;
}

/**
 * The context's content hash: sha256 over every file's path, mode and bytes in path order. Equal
 * contexts have equal hashes on any machine, whatever the directory they were written to.
 */
export function contextHash(files: readonly ContextFile[]): string {
    const hash = crypto.createHash("sha256");
    for (const file of sortContext(files)) {
        hash.update(`${file.path}\0${file.mode.toString(8)}\0${file.content.length}\0`);
        hash.update(file.content);
    }
    return hash.digest("hex");
}

/** A fixed modification time for every written file, so nothing about the write itself reaches Docker. */
const FIXED_MTIME = new Date("2000-01-01T00:00:00Z");

/**
 * Writes `files` to `dir`, replacing whatever was there (a stale file from an older plan must not
 * linger in the context). When `dir` already holds exactly these files nothing is rewritten, so a
 * preview of an unchanged program does not even touch the disk.
 */
export function writeContext(dir: string, files: readonly ContextFile[]): void {
    const sorted = sortContext(files);
    if (matchesDisk(dir, sorted)) return;
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    for (const file of sorted) {
        const target = path.join(dir, ...file.path.split("/"));
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, file.content, { mode: file.mode });
        fs.chmodSync(target, file.mode);
        fs.utimesSync(target, FIXED_MTIME, FIXED_MTIME);
    }
}

function matchesDisk(dir: string, files: readonly ContextFile[]): boolean {
    if (!fs.existsSync(dir)) return false;
    try {
        const onDisk = collectTree(dir, "").map((f) => ({ ...f, path: f.path.slice(1) }));
        // collectTree honours a .dockerignore; the context never has one of its own, so the lists are comparable.
        return contextHash(onDisk) === contextHash(files);
    } catch {
        return false;
    }
}
