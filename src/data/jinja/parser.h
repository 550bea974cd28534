// Builds the statement tree of a template from its tokens, with jinja2's grammar and
// operator precedence (jinja2/parser.py): if/elif/else, for (with "if" and else), set (and
// block set, ns.attribute, unpacking), macro, with, break/continue (the loopcontrols
// extension) and transformers' generation block.
#pragma once

#include <string>
#include <vector>

#include "data/jinja/ast.h"
#include "data/jinja/lexer.h"

namespace zili::data::jinja {

// zili::Error "<name>:<line>: <what>" for a syntax error or an unsupported construct.
Body parse_template(const std::vector<Token>& tokens, const std::string& name);

}  // namespace zili::data::jinja
