/**
 * The Dockerfile read by dockerfile-ast (the parser of the Docker language
 * server) into build stages, and .dockerignore's allow-list. No Docker engine
 * runs on the CI machine, so tests replay the stages' steps themselves.
 */
import { readFileSync } from 'node:fs';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { REPO_ROOT } from './process.js';

export interface Stage {
  readonly name: string;
  /** The FROM image, with `${ARG}` references expanded from the global ARGs. */
  readonly image: string;
  readonly instructions: readonly Instruction[];
}

export function readDockerfile(): string {
  return readFileSync(`${REPO_ROOT}Dockerfile`, 'utf8');
}

/** Global ARG defaults (the ARGs before the first FROM). */
export function globalArgs(text: string): Map<string, string> {
  const args = new Map<string, string>();
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    if (instruction.getKeyword() === 'FROM') break;
    if (instruction.getKeyword() !== 'ARG') continue;
    const [name, value] = (instruction.getArgumentsContent() ?? '').split('=', 2);
    if (name !== undefined && value !== undefined) args.set(name, value);
  }
  return args;
}

export function stages(text: string): Stage[] {
  const args = globalArgs(text);
  const result: Array<{ name: string; image: string; instructions: Instruction[] }> = [];
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const [image = '', as, name] = (instruction.getArgumentsContent() ?? '').split(/\s+/);
      const expanded = image.replace(/\$\{(\w+)\}/g, (_all, arg: string) => args.get(arg) ?? '');
      result.push({ name: as?.toUpperCase() === 'AS' && name !== undefined ? name : String(result.length), image: expanded, instructions: [] });
    } else {
      result.at(-1)?.instructions.push(instruction);
    }
  }
  return result;
}

/** The exec-form (JSON array) arguments of CMD, ENTRYPOINT or HEALTHCHECK CMD. */
export function execForm(instruction: Instruction): string[] {
  const json = (instruction.getRawArgumentsContent() ?? '').replace(/^.*?(\[)/s, '$1');
  return JSON.parse(json) as string[];
}

/** A flag's value (`--from=build` → "build"), or null. */
export function flag(instruction: Instruction, name: string): string | null {
  const flags = (instruction as unknown as { getFlags?: () => Array<{ getName(): string; getValue(): string | null }> }).getFlags?.() ?? [];
  return flags.find((f) => f.getName() === name)?.getValue() ?? null;
}

/** The non-flag arguments of an instruction (COPY's sources and destination). */
export function plainArguments(instruction: Instruction): string[] {
  return instruction
    .getArguments()
    .map((a) => a.getValue())
    .filter((value) => !value.startsWith('--'));
}

/**
 * .dockerignore as Docker reads it: the last matching pattern wins, `!` admits
 * again; a pattern matches a path or any folder above it. Supports `*` and `?`
 * within one path segment, which is all this repository's file uses.
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const admit = line.startsWith('!');
      const pattern = (admit ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
      const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
      return { admit, regex: new RegExp(`^${source}(/.*)?$`) };
    });
  return (path: string) => {
    let admitted = true;
    for (const rule of rules) if (rule.regex.test(path)) admitted = rule.admit;
    return admitted;
  };
}
