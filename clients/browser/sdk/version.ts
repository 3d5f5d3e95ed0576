// The SDK's version: the root package.json `version`, put in by the build
// (clients/browser/build.mjs, scripts/build-sdk.mjs define __SWITCHBOARD_VERSION__).
// Bundled by another tool without that define, it reads '0.0.0-dev'.

declare const __SWITCHBOARD_VERSION__: string | undefined;

/** The version of this SDK (the same as the server it ships with). */
export const SDK_VERSION: string = typeof __SWITCHBOARD_VERSION__ === 'string' ? __SWITCHBOARD_VERSION__ : '0.0.0-dev';
