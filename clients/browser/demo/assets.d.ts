// Stylesheets are imported for their side effect: esbuild bundles them into demo.css.
declare module '*.css';

// hls.js's light build (no subtitles, alternate audio or DRM: the watch page needs none) has the full build's API.
declare module 'hls.js/light' {
  import Hls from 'hls.js';
  export default Hls;
}
