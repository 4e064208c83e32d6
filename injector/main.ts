// Entry point of the bundle (dist/lameduck.mjs). Everything lives in cli.ts, which has no side
// effects at import time and is what the tests import.
import { main } from "./cli.ts";

process.exitCode = await main(process.argv.slice(2), process.env);
