import * as crypto from "crypto";
import { ContextFile, sortContext } from "./context";

/**
 * A deterministic POSIX ustar archive: the same files give the same bytes on any machine, at any time,
 * for any user. Entries are sorted by path; every entry is owned by 0:0 with no owner names, has mode
 * 0644 or 0755 and the fixed mtime 2000-01-01T00:00:00Z. A delta release ships this archive, so its hash
 * (a resource input) changes exactly when a source file does.
 *
 * Written by hand rather than with a tar library because every field is fixed here and the format is
 * small; GNU tar and busybox tar both read it (the integration test extracts it with the host's tar).
 */
export function deterministicTar(files: readonly ContextFile[]): Buffer {
    const blocks: Buffer[] = [];
    for (const file of sortContext(files)) {
        blocks.push(ustarHeader(file.path, file.mode, file.content.length));
        blocks.push(file.content);
        const padding = (512 - (file.content.length % 512)) % 512;
        if (padding > 0) blocks.push(Buffer.alloc(padding));
    }
    // Two zero blocks end the archive.
    blocks.push(Buffer.alloc(1024));
    return Buffer.concat(blocks);
}

/** 2000-01-01T00:00:00Z, the mtime of every entry (the same one writeContext gives context files). */
export const ARCHIVE_MTIME = 946684800;

function octal(value: number, width: number): string {
    // width includes the terminating NUL.
    return value.toString(8).padStart(width - 1, "0") + "\0";
}

/** Splits a path into ustar's prefix (<= 155 bytes) and name (<= 100 bytes) at a '/'. */
function splitPath(p: string): { prefix: string; name: string } {
    if (Buffer.byteLength(p) <= 100) return { prefix: "", name: p };
    for (let i = p.length - 1; i > 0; i--) {
        if (p[i] !== "/") continue;
        const prefix = p.slice(0, i);
        const name = p.slice(i + 1);
        if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) return { prefix, name };
    }
    throw new Error(`the path ${JSON.stringify(p)} is too long for a ustar archive (name 100 bytes, prefix 155); shorten it.`);
}

function ustarHeader(filePath: string, mode: number, size: number): Buffer {
    const header = Buffer.alloc(512);
    const { prefix, name } = splitPath(filePath);
    header.write(name, 0, 100, "utf8");
    header.write(octal(mode & 0o7777, 8), 100, 8, "ascii");
    header.write(octal(0, 8), 108, 8, "ascii"); // uid
    header.write(octal(0, 8), 116, 8, "ascii"); // gid
    header.write(octal(size, 12), 124, 12, "ascii");
    header.write(octal(ARCHIVE_MTIME, 12), 136, 12, "ascii");
    header.write("        ", 148, 8, "ascii"); // checksum field counts as spaces while summing
    header.write("0", 156, 1, "ascii"); // regular file
    header.write("ustar\0", 257, 6, "ascii");
    header.write("00", 263, 2, "ascii");
    header.write(prefix, 345, 155, "utf8");
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(octal(sum, 7) + " ", 148, 8, "ascii");
    return header;
}

/** sha256 (hex) of a buffer. */
export function sha256Hex(data: Buffer | string): string {
    return crypto.createHash("sha256").update(data).digest("hex");
}
