// Types of markdown.cjs for the TypeScript tests.
export declare function markdownLinks(text: string): string[];
export declare function anchorsOf(text: string): Set<string>;
export declare function slug(headingText: string): string;
export declare function renderGuide(markdown: string, title: string): string;
export declare function buildGuides(root: string, outDir: string): string[];
export declare function guideFileName(ruleId: string): string;
