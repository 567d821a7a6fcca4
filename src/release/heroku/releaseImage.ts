/**
 * The image Heroku's release phase runs. Heroku runs a `release` process type's image by its own start
 * command (there is no Procfile line for a container app), and a CMD always through a shell, which the slim
 * runtime image does not have; an ENTRYPOINT in exec form is run as it is. So the release image is the web
 * image with one instruction more: an ENTRYPOINT naming the executable and the release command's arguments.
 * It shares every layer with the web image (the new instruction changes only the image config), so pushing
 * it uploads no layer the registry does not hold already.
 *
 * Pure and self-contained (no imports): the serialized dynamic provider captures it.
 */

/**
 * The Dockerfile of the release image: `FROM` the web image by its id, then the executable and the command's
 * arguments as an exec-form ENTRYPOINT. Setting ENTRYPOINT also clears any CMD of the base image, so nothing
 * is appended to the command. Each word is written as a JSON string (what Docker's exec form parses), so a
 * quote, a backslash or a space in an argument reaches the command unchanged, and no word can end the line.
 */
export function renderReleaseDockerfile(webImageId: string, executable: string, command: readonly string[]): string {
    if (!/^sha256:[0-9a-f]{64}$/.test(webImageId)) throw new Error(`the release image is built FROM the web image's id (sha256:<64 hex>), not "${webImageId}"`);
    if (!executable.startsWith("/")) throw new Error(`the executable must be an absolute path inside the image, not "${executable}"`);
    if (command.length === 0) throw new Error("a release image needs a command");
    return [
        "# The release phase's image (rendered by lisp-deploy): the web image, started as its release command.",
        `FROM ${webImageId}`,
        `ENTRYPOINT ${JSON.stringify([executable, ...command])}`,
        "",
    ].join("\n");
}
