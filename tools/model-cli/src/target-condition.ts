/**
 * Checks the syntax of an IoT Hub deployment target condition: comparisons of `deviceId`, `tags.<path>` or
 * `properties.reported.<path>` with string, number or boolean literals (=, !=, <>, <, <=, >, >=, IN [..]),
 * joined by AND, OR, NOT and parentheses. Returns the problem, or undefined when the condition is well formed.
 */
export function targetConditionProblem(condition: string): string | undefined {
  const tokens: string[] = [];
  const pattern = /\s*(?:('(?:[^']|'')*')|(\d+(?:\.\d+)?)|(<=|>=|<>|!=|=|<|>)|([()[\],])|([A-Za-z_$][\w$.-]*))/y;
  let index = 0;
  while (index < condition.length) {
    if (/^\s*$/.test(condition.slice(index))) break;
    pattern.lastIndex = index;
    const match = pattern.exec(condition);
    if (!match) return `unexpected "${condition.slice(index).trim().slice(0, 12)}" at position ${index}`;
    tokens.push(match[0].trim());
    index = pattern.lastIndex;
  }
  let position = 0;
  const peek = () => tokens[position];
  const upper = () => peek()?.toUpperCase();
  const isField = (token: string | undefined) => token !== undefined && /^(deviceId|moduleId|tags\.[\w$-]+(\.[\w$-]+)*|properties\.reported\.[\w$-]+(\.[\w$-]+)*|capabilities\.iotEdge)$/.test(token);
  const isLiteral = (token: string | undefined) => token !== undefined && (/^'.*'$/s.test(token) || /^\d/.test(token) || /^(true|false|null)$/i.test(token));

  const comparison = (): string | undefined => {
    if (peek() === '(') {
      position += 1;
      const problem = expression();
      if (problem) return problem;
      if (peek() !== ')') return 'a parenthesis is not closed';
      position += 1;
      return undefined;
    }
    if (upper() === 'NOT') {
      position += 1;
      return comparison();
    }
    const field = peek();
    if (!isField(field)) return `expected deviceId, tags.<name> or properties.reported.<name>, found "${field ?? 'the end'}"`;
    position += 1;
    const operator = upper();
    if (operator === 'IN') {
      position += 1;
      if (peek() !== '[') return 'IN needs a list: IN [\'a\', \'b\']';
      position += 1;
      for (;;) {
        if (!isLiteral(peek())) return `expected a value in the IN list, found "${peek() ?? 'the end'}"`;
        position += 1;
        if (peek() === ',') position += 1;
        else break;
      }
      if (peek() !== ']') return 'an IN list is not closed';
      position += 1;
      return undefined;
    }
    if (!operator || !['=', '!=', '<>', '<', '<=', '>', '>='].includes(operator)) return `expected a comparison after ${field}, found "${peek() ?? 'the end'}"`;
    position += 1;
    if (!isLiteral(peek())) return `expected a value after ${field} ${operator}, found "${peek() ?? 'the end'}" (strings take single quotes)`;
    position += 1;
    return undefined;
  };
  const expression = (): string | undefined => {
    for (;;) {
      const problem = comparison();
      if (problem) return problem;
      if (upper() === 'AND' || upper() === 'OR') position += 1;
      else return undefined;
    }
  };
  if (tokens.length === 0) return 'the condition is empty';
  const problem = expression();
  if (problem) return problem;
  if (position < tokens.length) return `unexpected "${tokens[position]}"`;
  return undefined;
}
