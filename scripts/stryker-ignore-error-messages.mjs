// A Stryker ignore-plugin: the text of an error's message is written for an operator, and our tests match on error
// types and codes, never on message text (house style). So the string and template literals passed to `new …Error(…)`
// are not mutated; the decisions around them (whether to throw, which error) still are.
// Plain object rather than declareValuePlugin, so that this file needs nothing outside Stryker's own packages.

/** Whether `path` is a message argument: a string or template literal passed straight to `new <Name>Error(...)`. */
function isErrorMessage(path) {
  const { node, parent } = path;
  if (node.type !== 'StringLiteral' && node.type !== 'TemplateLiteral') return false;
  if (parent?.type !== 'NewExpression' || !parent.arguments.includes(node)) return false;
  const callee = parent.callee;
  return callee.type === 'Identifier' && callee.name.endsWith('Error');
}

export const strykerPlugins = [
  {
    kind: 'Ignore',
    name: 'error-messages',
    value: {
      shouldIgnore(path) {
        return isErrorMessage(path) ? 'the message text of an error; tests match on error types and codes' : undefined;
      },
    },
  },
];
