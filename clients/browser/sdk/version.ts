// The SDK's version: the root package.json `version`, put in by the build
// (clients/browser/build.mjs, scripts/build-sdk.mjs define __SWITCHBOARD_VERSION__).

declare const __SWITCHBOARD_VERSION__: string;

/** The version of this SDK (the same as the server it ships with). */
export const SDK_VERSION: string = __SWITCHBOARD_VERSION__;
