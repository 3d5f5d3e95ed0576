// Stylesheets are imported for their side effect: esbuild bundles them into demo.css.
declare module '*.css';
