import * as net from "net";

/**
 * Asks a Swank server on 127.0.0.1:`port` to evaluate `form` the way SLIME does (a length-framed
 * `:emacs-rex` message calling swank:interactive-eval) and returns the raw text of its `:return` reply.
 */
export function swankEval(port: number, form: string, timeoutMs = 10_000): Promise<string> {
    const message = `(:emacs-rex (swank:interactive-eval ${JSON.stringify(form)}) "COMMON-LISP-USER" t 1)`;
    const body = Buffer.from(message, "utf8");
    // Swank frames every message with its length in six hex digits.
    const frame = Buffer.concat([Buffer.from(body.length.toString(16).padStart(6, "0"), "ascii"), body]);
    return new Promise((resolve, reject) => {
        const socket = net.connect(port, "127.0.0.1", () => socket.write(frame));
        let received = Buffer.alloc(0);
        const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no :return from Swank on ${port} within ${timeoutMs} ms`)); }, timeoutMs);
        socket.on("data", (chunk) => {
            received = Buffer.concat([received, chunk]);
            // Replies may be preceded by other messages (:indentation-update, ...): read frame by frame.
            while (received.length >= 6) {
                const length = parseInt(received.subarray(0, 6).toString("ascii"), 16);
                if (received.length < 6 + length) return;
                const reply = received.subarray(6, 6 + length).toString("utf8");
                received = received.subarray(6 + length);
                if (reply.startsWith("(:return")) {
                    clearTimeout(timer);
                    socket.end();
                    resolve(reply);
                    return;
                }
            }
        });
        socket.on("error", (e) => { clearTimeout(timer); reject(e); });
    });
}

/** The sockets listening on `port` per /proc/net/tcp and tcp6, as their hex local addresses. */
export function listenersFromProcNet(procNetText: string, port: number): string[] {
    const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
    return procNetText
        .split("\n")
        .map((line) => line.trim().split(/\s+/))
        .filter((f) => f.length > 3 && f[1].endsWith(`:${hexPort}`) && f[3] === "0A") // 0A: LISTEN
        .map((f) => f[1].split(":")[0]);
}
