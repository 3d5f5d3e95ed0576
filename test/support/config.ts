// Config validation checks shared by the unit tests of server/kernel/config.ts.

import * as assert from 'uvu/assert';
import { ConfigError, loadConfig } from '../../server/kernel/config.js';

/** Each env must be refused by loadConfig with a ConfigError whose problems name its variable. */
export function assertRefused(cases: ReadonlyArray<readonly [Record<string, string>, string]>): void {
  for (const [env, name] of cases) {
    try {
      loadConfig(env);
      assert.unreachable(name);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.match((err as ConfigError).problems.join('\n'), name);
    }
  }
}
