// jinja2's statements (jinja2/parser.py): if/elif/else, for (with "if" and else), set (and
// block set, ns.attribute, unpacking), macro, with, break/continue (the loopcontrols
// extension) and transformers' generation block; the rest is refused by name.
#include "data/jinja/parser.h"

#include "data/jinja/parser_impl.h"

namespace zili::data::jinja {

Body Parser::parse() {
  std::string end;
  return statements({}, end);
}

std::string Parser::describe() const {
  switch (cur().kind) {
    case Token::Kind::End:
      return "end of template";
    case Token::Kind::BlockEnd:
      return "end of statement block";
    case Token::Kind::VarEnd:
      return "end of print statement";
    case Token::Kind::Text:
      return "template text";
    default:
      return "'" + cur().value + "'";
  }
}

void Parser::expect_op(const char* op) {
  if (!is_op(op)) error(fmt::format("expected '{}', got {}", op, describe()));
  next();
}

std::string Parser::expect_name() {
  if (cur().kind != Token::Kind::Name) error(fmt::format("expected a name, got {}", describe()));
  return next().value;
}

void Parser::expect_block_end() {
  if (cur().kind != Token::Kind::BlockEnd)
    error(fmt::format("expected end of statement block '%}}', got {}", describe()));
  next();
}

// Statements until a {% tag %} whose name is in ends (consumed up to the name: found).
Body Parser::statements(const std::set<std::string>& ends, std::string& found) {
  Nest nest(*this);
  Body body;
  while (cur().kind != Token::Kind::End) {
    const Token& token = cur();
    if (token.kind == Token::Kind::Text) {
      auto stmt = make(Stmt::Kind::Text);
      stmt->text = next().value;
      body.push_back(std::move(stmt));
    } else if (token.kind == Token::Kind::VarBegin) {
      next();
      auto stmt = make(Stmt::Kind::Output);
      stmt->expr = tuple(true);
      if (cur().kind != Token::Kind::VarEnd)
        error(fmt::format("expected end of print statement '}}}}', got {}", describe()));
      next();
      body.push_back(std::move(stmt));
    } else if (token.kind == Token::Kind::BlockBegin) {
      next();
      if (cur().kind != Token::Kind::Name) error("expected a statement name after '{%'");
      if (ends.count(cur().value)) {
        found = next().value;
        return body;
      }
      body.push_back(statement());
    } else {
      error(fmt::format("unexpected {}", describe()));
    }
  }
  if (!ends.empty()) {
    std::string names;
    for (const auto& e : ends) names += (names.empty() ? "'" : " or '") + e + "'";
    error(fmt::format("unexpected end of template: a block was not closed (expected {})", names));
  }
  return body;
}

std::unique_ptr<Stmt> Parser::make(Stmt::Kind kind) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = kind;
  stmt->line = cur().line;
  return stmt;
}

std::unique_ptr<Stmt> Parser::statement() {
  const std::string word = cur().value;
  if (word == "if") return if_statement();
  if (word == "for") return for_statement();
  if (word == "set") return set_statement();
  if (word == "macro") return macro_statement();
  if (word == "with") return with_statement();
  if (word == "break" || word == "continue") {
    auto stmt = make(word == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue);
    next();
    expect_block_end();
    return stmt;
  }
  if (word == "generation") {
    auto stmt = make(Stmt::Kind::Generation);
    next();
    expect_block_end();
    std::string end;
    stmt->body = statements({"endgeneration"}, end);
    expect_block_end();
    return stmt;
  }
  static const std::set<std::string> unsupported = {"call", "filter",  "include",   "import",
                                                    "from", "extends", "block",     "autoescape",
                                                    "do",   "trans",   "pluralize", "debug"};
  if (unsupported.count(word)) error(fmt::format("the '{}' block is not supported", word));
  error(fmt::format("unknown tag '{}'", word));
}

std::unique_ptr<Stmt> Parser::if_statement() {
  auto stmt = make(Stmt::Kind::If);
  next();
  while (true) {
    ExprPtr condition = tuple(false);
    expect_block_end();
    std::string end;
    Body body = statements({"elif", "else", "endif"}, end);
    stmt->branches.emplace_back(std::move(condition), std::move(body));
    if (end == "elif") continue;
    if (end == "else") {
      expect_block_end();
      stmt->else_body = statements({"endif"}, end);
    }
    expect_block_end();
    return stmt;
  }
}

// Names to assign: a, or a, b, or (a, b).
std::vector<std::string> Parser::targets() {
  std::vector<std::string> names;
  const bool paren = is_op("(");
  if (paren) next();
  do {
    if (!names.empty()) next();
    if (cur().kind != Token::Kind::Name) break;
    names.push_back(next().value);
  } while (is_op(","));
  if (paren) expect_op(")");
  if (names.empty()) error(fmt::format("expected a name to assign to, got {}", describe()));
  return names;
}

std::unique_ptr<Stmt> Parser::for_statement() {
  auto stmt = make(Stmt::Kind::For);
  next();
  stmt->targets = targets();
  if (!is_name("in")) error(fmt::format("expected 'in' in the for loop, got {}", describe()));
  next();
  stmt->expr = tuple(false, "recursive");
  if (is_name("if")) {
    next();
    stmt->filter = expression(true);
  }
  if (is_name("recursive")) error("recursive for loops are not supported");
  expect_block_end();
  std::string end;
  stmt->body = statements({"else", "endfor"}, end);
  if (end == "else") {
    expect_block_end();
    stmt->else_body = statements({"endfor"}, end);
  }
  expect_block_end();
  return stmt;
}

std::unique_ptr<Stmt> Parser::set_statement() {
  auto stmt = make(Stmt::Kind::Set);
  next();
  if (cur().kind == Token::Kind::Name && i_ + 1 < t_.size() &&
      t_[i_ + 1].kind == Token::Kind::Operator && t_[i_ + 1].value == ".") {
    stmt->targets.push_back(next().value);
    next();
    stmt->attribute = expect_name();
  } else {
    stmt->targets = targets();
  }
  if (is_op("=")) {
    next();
    stmt->expr = tuple(true);
    expect_block_end();
    return stmt;
  }
  if (is_op("|")) error("filtered block set ({% set x | filter %}) is not supported");
  if (!stmt->attribute.empty() || stmt->targets.size() != 1)
    error("a block set assigns to one name");
  expect_block_end();
  stmt->kind = Stmt::Kind::SetBlock;
  std::string end;
  stmt->body = statements({"endset"}, end);
  expect_block_end();
  return stmt;
}

std::unique_ptr<Stmt> Parser::macro_statement() {
  auto stmt = make(Stmt::Kind::Macro);
  next();
  stmt->text = expect_name();
  expect_op("(");
  while (!is_op(")")) {
    if (!stmt->params.empty()) expect_op(",");
    if (is_op(")")) break;
    std::string param = expect_name();
    ExprPtr fallback;
    if (is_op("=")) {
      next();
      fallback = expression(true);
    }
    stmt->params.emplace_back(std::move(param), std::move(fallback));
  }
  next();
  expect_block_end();
  std::string end;
  stmt->body = statements({"endmacro"}, end);
  if (cur().kind == Token::Kind::Name) next();  // {% endmacro name %}
  expect_block_end();
  return stmt;
}

std::unique_ptr<Stmt> Parser::with_statement() {
  auto stmt = make(Stmt::Kind::With);
  next();
  while (cur().kind != Token::Kind::BlockEnd) {
    if (!stmt->params.empty()) expect_op(",");
    std::string target = expect_name();
    expect_op("=");
    stmt->params.emplace_back(std::move(target), expression(true));
  }
  expect_block_end();
  std::string end;
  stmt->body = statements({"endwith"}, end);
  expect_block_end();
  return stmt;
}

Body parse_template(const std::vector<Token>& tokens, const std::string& name) {
  return Parser(tokens, name).parse();
}

}  // namespace zili::data::jinja
