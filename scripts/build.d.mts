/** Types of scripts/build.mjs (the esbuild build of dist/), for the TypeScript scripts that call it. */
export declare const ROOT: string;
export declare const ENTRIES: Readonly<Record<string, string>>;
export declare function build(outdir?: string): Promise<{ outdir: string; files: string[] }>;
export declare function builtIsFresh(outdir?: string): boolean;
