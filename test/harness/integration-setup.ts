// Real engines: image builds and SSH round trips take minutes, not jest's default 5 seconds.
// (testTimeout is a global-only option in jest 29, so the integration project sets it here.)
jest.setTimeout(20 * 60 * 1000);
