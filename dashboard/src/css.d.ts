/** esbuild bundles imported CSS into app.css; to TypeScript such an import is a bare side effect. */
declare module '*.css';
