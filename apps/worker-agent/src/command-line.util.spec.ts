import { splitCommandLine } from './command-line.util';

describe('splitCommandLine', () => {
  it.each([
    ['node /opt/t/main.js', ['node', '/opt/t/main.js']],
    ['  python   -m  simpletuner ', ['python', '-m', 'simpletuner']],
    [`bash -c 'echo "hi there"; exit 3'`, ['bash', '-c', 'echo "hi there"; exit 3']],
    ['"/path with spaces/python" train.py', ['/path with spaces/python', 'train.py']],
    ['a\\ b "c\\"d" \'\'', ['a b', 'c"d', '']],
  ])('splits %j', (input, expected) => {
    expect(splitCommandLine(input)).toEqual(expected);
  });

  it('rejects an unterminated quote', () => {
    expect(() => splitCommandLine('node "oops')).toThrow(/unterminated/);
  });
});
