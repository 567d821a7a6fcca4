// Two projects so CI and developers can run the fast layer alone (`npm run test:unit`).
// ts-jest transpiles only (isolatedModules); `npm run typecheck` does the type checking once.
const transform = { "^.+\\.ts$": ["ts-jest", { isolatedModules: true, tsconfig: "tsconfig.test.json" }] };
module.exports = {
  projects: [
    { displayName: "unit", testEnvironment: "node", transform, testMatch: ["<rootDir>/test/unit/**/*.test.ts"] },
    {
      displayName: "integration",
      testEnvironment: "node",
      transform,
      testMatch: ["<rootDir>/test/integration/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/harness/integration-setup.ts"],
    },
  ],
};
