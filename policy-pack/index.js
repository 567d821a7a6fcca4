// The policies are written in TypeScript under src/policy and compiled to bin/ by `npm run build`.
require("../bin/policy/pack");
