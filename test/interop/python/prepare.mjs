// The Python service: functions.py on the official StateFun Python SDK (apache-flink-statefun, pinned
// in requirements.txt), run by a virtual environment in .cache/interop/python/venv.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInPlace, cacheDirOf, isPrepared, run, sourceHash } from '../prepare-support.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const cache = cacheDirOf('python');
const venv = join(cache, 'venv');
const python = join(venv, 'bin', 'python');

export async function prepare(log) {
  const version = (
    await run('python3', ['--version'], { what: 'python3 --version (Python 3.8 or newer is needed)' })
  ).trim();
  // functions.py runs from its source: only the requirements and the interpreter make a new venv.
  const hash = sourceHash([join(here, 'requirements.txt')], [version]);
  if (isPrepared(cache, hash, [python])) {
    log(`${version} venv current in ${venv}`);
    return;
  }
  await buildInPlace(cache, venv, hash, async (staging) => {
    log(`creating a ${version} venv`);
    await run('python3', ['-m', 'venv', staging], {
      what: 'python3 -m venv (on Debian: apt-get install -y python3-venv)',
    });
    log('installing requirements.txt (apache-flink-statefun) with pip');
    const stagedPython = join(staging, 'bin', 'python');
    await run(
      stagedPython,
      [
        '-m',
        'pip',
        'install',
        '--disable-pip-version-check',
        '--no-input',
        '-q',
        '-r',
        join(here, 'requirements.txt'),
      ],
      { what: 'pip install -r test/interop/python/requirements.txt' },
    );
    await run(stagedPython, ['-c', 'import statefun'], { what: 'importing statefun in the new venv' });
  });
  log(`venv ready in ${venv}`);
}

export function command(port) {
  if (!existsSync(python)) throw new Error(`${python} is missing: run node test/infra/prepare.mjs`);
  return {
    command: python,
    args: [join(here, 'functions.py'), String(port)],
    env: { PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
  };
}
