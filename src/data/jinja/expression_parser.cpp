// jinja2's expression grammar, lowest precedence first: "a if c else b", or, and, not,
// comparisons and in (chained as Python chains them), + -, ~, * / // %, **, unary - +, then
// primaries with their postfixes (.attr [item] [a:b:c] (call)) and filters/tests.
#include <cstdlib>

#include "data/jinja/filters.h"
#include "data/jinja/parser_impl.h"
#include "data/jinja/tests.h"

namespace zili::data::jinja {

ExprPtr Parser::node(Expr::Kind kind, int line, std::string name) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  e->name = std::move(name);
  return e;
}
ExprPtr Parser::binary(std::string op, ExprPtr a, ExprPtr b) {
  auto e = node(Expr::Kind::Binary, a->line, std::move(op));
  e->args.push_back(std::move(a));
  e->args.push_back(std::move(b));
  return e;
}

bool Parser::tuple_end(const char* extra_end) const {
  return cur().kind == Token::Kind::VarEnd || cur().kind == Token::Kind::BlockEnd || is_op(")") ||
         (extra_end && is_name(extra_end));
}

// a, b, c without parentheses: a tuple; a alone: a.
ExprPtr Parser::tuple(bool condexpr, const char* extra_end, bool parenthesized) {
  const int line = cur().line;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) expect_op(",");
    if (tuple_end(extra_end)) break;
    items.push_back(expression(condexpr));
    if (is_op(",")) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple && items.size() == 1) return std::move(items[0]);
  if (items.empty() && !parenthesized)
    error(fmt::format("expected an expression, got {}", describe()));
  auto e = node(Expr::Kind::Tuple, line);
  e->args = std::move(items);
  return e;
}

ExprPtr Parser::expression(bool condexpr) {
  Nest nest(*this);
  if (!condexpr) return or_expr();
  ExprPtr e = or_expr();
  while (is_name("if")) {
    next();
    auto cond = node(Expr::Kind::Cond, e->line);
    ExprPtr test = or_expr();
    ExprPtr otherwise;
    if (is_name("else")) {
      next();
      otherwise = expression(true);
    }
    cond->args.push_back(std::move(e));
    cond->args.push_back(std::move(test));
    cond->args.push_back(std::move(otherwise));
    e = std::move(cond);
  }
  return e;
}

ExprPtr Parser::or_expr() {
  ExprPtr e = and_expr();
  while (is_name("or")) {
    next();
    e = binary("or", std::move(e), and_expr());
  }
  return e;
}
ExprPtr Parser::and_expr() {
  ExprPtr e = not_expr();
  while (is_name("and")) {
    next();
    e = binary("and", std::move(e), not_expr());
  }
  return e;
}
ExprPtr Parser::not_expr() {
  if (!is_name("not")) return compare();
  Nest nest(*this);
  auto e = node(Expr::Kind::Unary, next().line, "not");
  e->args.push_back(not_expr());
  return e;
}

ExprPtr Parser::math1() {
  ExprPtr e = concat();
  while (is_op("+") || is_op("-")) {
    const std::string op = next().value;
    e = binary(op, std::move(e), concat());
  }
  return e;
}
ExprPtr Parser::concat() {
  ExprPtr e = math2();
  while (is_op("~")) {
    next();
    e = binary("~", std::move(e), math2());
  }
  return e;
}
ExprPtr Parser::math2() {
  ExprPtr e = power();
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    const std::string op = next().value;
    e = binary(op, std::move(e), power());
  }
  return e;
}
ExprPtr Parser::power() {
  ExprPtr e = unary(true);
  while (is_op("**")) {
    next();
    e = binary("**", std::move(e), unary(true));
  }
  return e;
}
ExprPtr Parser::unary(bool with_filter) {
  Nest nest(*this);
  ExprPtr e;
  if (is_op("-") || is_op("+")) {
    e = node(Expr::Kind::Unary, cur().line, next().value);
    e->args.push_back(unary(false));
  } else {
    e = primary();
  }
  e = postfix(std::move(e));
  return with_filter ? filters(std::move(e)) : std::move(e);
}

// a < b < c is (a < b) and (b < c), as Python chains them.
ExprPtr Parser::compare() {
  ExprPtr e = math1();
  auto chain = node(Expr::Kind::Compare, e->line);
  chain->args.push_back(std::move(e));
  while (true) {
    std::string op;
    for (const char* o : {"==", "!=", "<", "<=", ">", ">="})
      if (is_op(o)) op = o;
    if (!op.empty()) {
      next();
    } else if (is_name("in")) {
      next();
      op = "in";
    } else if (is_name("not") && peek_name("in")) {
      next();
      next();
      op = "not in";
    } else {
      break;
    }
    chain->ops.push_back(op);
    chain->args.push_back(math1());
  }
  if (chain->ops.empty()) return std::move(chain->args[0]);
  return chain;
}

ExprPtr Parser::primary() {
  Nest nest(*this);
  const Token& token = cur();
  const int line = token.line;
  auto literal = [&](Value v) {
    auto e = node(Expr::Kind::Literal, line);
    e->value = std::move(v);
    return e;
  };
  switch (token.kind) {
    case Token::Kind::Name: {
      const std::string word = next().value;
      if (word == "true" || word == "True") return literal(Value::from(true));
      if (word == "false" || word == "False") return literal(Value::from(false));
      if (word == "none" || word == "None") return literal(Value::none());
      return node(Expr::Kind::Name, line, word);
    }
    case Token::Kind::String: {
      std::string text;
      while (cur().kind == Token::Kind::String) text += next().value;  // "a" "b" is "ab"
      return literal(Value::from(std::move(text)));
    }
    case Token::Kind::Int: {
      const std::string digits = next().value;
      try {
        return literal(Value::from(static_cast<int64_t>(std::stoll(digits))));
      } catch (const std::exception&) {
        return literal(Value::from(std::stod(digits)));  // past int64: a float, not Python's bigint
      }
    }
    case Token::Kind::Float: {
      // strtod: Python's float() too gives inf past the range and 0 below it.
      return literal(Value::from(std::strtod(next().value.c_str(), nullptr)));
    }
    default:
      break;
  }
  if (is_op("(")) {
    next();
    ExprPtr e = tuple(true, nullptr, true);
    expect_op(")");
    return e;
  }
  if (is_op("[") || is_op("{")) {
    const bool is_list = is_op("[");
    next();
    auto e = node(is_list ? Expr::Kind::List : Expr::Kind::Dict, line);
    const char* close = is_list ? "]" : "}";
    while (!is_op(close)) {
      if (!e->args.empty()) expect_op(",");
      if (is_op(close)) break;
      e->args.push_back(expression(true));
      if (!is_list) {
        expect_op(":");
        e->args.push_back(expression(true));
      }
    }
    next();
    return e;
  }
  error(fmt::format("unexpected {}", describe()));
}

ExprPtr Parser::postfix(ExprPtr e) {
  while (true) {
    if (is_op(".")) {
      next();
      if (cur().kind == Token::Kind::Name) {
        auto attr = node(Expr::Kind::Attr, e->line, next().value);
        attr->args.push_back(std::move(e));
        e = std::move(attr);
      } else if (cur().kind == Token::Kind::Int) {  // x.0 is x[0]
        auto item = node(Expr::Kind::Item, e->line);
        auto index = node(Expr::Kind::Literal, e->line);
        const std::string digits = next().value;
        if (digits.size() > 18) error(fmt::format("index {} is too large", digits));
        index->value = Value::from(static_cast<int64_t>(std::stoll(digits)));
        item->args.push_back(std::move(e));
        item->args.push_back(std::move(index));
        e = std::move(item);
      } else {
        error(fmt::format("expected a name after '.', got {}", describe()));
      }
    } else if (is_op("[")) {
      e = subscript(std::move(e));
    } else if (is_op("(")) {
      auto call = node(Expr::Kind::Call, e->line);
      call->args.push_back(std::move(e));
      call_args(*call);
      e = std::move(call);
    } else {
      return e;
    }
  }
}

// x[i] or x[start:stop:step], any part left out.
ExprPtr Parser::subscript(ExprPtr e) {
  next();
  std::vector<ExprPtr> parts;
  bool slice = false;
  parts.emplace_back(is_op(":") ? nullptr : expression(true));
  while (is_op(":") && parts.size() < 3) {
    next();
    slice = true;
    parts.emplace_back(is_op(":") || is_op("]") ? nullptr : expression(true));
  }
  if (is_op(",")) error("subscripts with several indices (x[a, b]) are not supported");
  expect_op("]");
  auto out = node(slice ? Expr::Kind::Slice : Expr::Kind::Item, e->line);
  out->args.push_back(std::move(e));
  for (auto& part : parts) out->args.push_back(std::move(part));
  while (slice && out->args.size() < 4) out->args.emplace_back(nullptr);
  return out;
}

// | filter(args), is [not] test(args) or "is test arg", and calls after them.
ExprPtr Parser::filters(ExprPtr e) {
  while (true) {
    if (is_op("|")) {
      next();
      auto f = node(Expr::Kind::Filter, cur().line, expect_name());
      while (is_op(".")) {
        next();
        // Appended, not "." + string: GCC 12 warns (-Wstringop-overflow, falsely) on that.
        f->name += '.';
        f->name += expect_name();
      }
      if (!is_known_filter(f->name)) {
        --i_;  // the error names the filter's line
        error(fmt::format("no filter named '{}'", f->name));
      }
      f->args.push_back(std::move(e));
      if (is_op("(")) call_args(*f);
      e = std::move(f);
    } else if (is_name("is")) {
      next();
      auto t = node(Expr::Kind::Test, cur().line);
      if (is_name("not")) {
        next();
        t->negated = true;
      }
      t->name = expect_name();
      if (!is_known_test(t->name)) {
        --i_;
        error(fmt::format("no test named '{}'", t->name));
      }
      t->args.push_back(std::move(e));
      const Token::Kind k = cur().kind;
      if (is_op("(")) {
        call_args(*t);
      } else if ((k == Token::Kind::Name || k == Token::Kind::String || k == Token::Kind::Int ||
                  k == Token::Kind::Float || is_op("[") || is_op("{")) &&
                 !is_name("else") && !is_name("or") && !is_name("and")) {
        t->args.push_back(postfix(primary()));
      }
      e = std::move(t);
    } else if (is_op("(")) {
      auto call = node(Expr::Kind::Call, e->line);
      call->args.push_back(std::move(e));
      call_args(*call);
      e = std::move(call);
    } else {
      return e;
    }
  }
}

// (a, b, name=c): positional arguments into e.args after what is there, keywords into kwargs.
void Parser::call_args(Expr& e) {
  expect_op("(");
  bool first = true;
  while (!is_op(")")) {
    if (!first) expect_op(",");
    first = false;
    if (is_op(")")) break;
    if (is_op("*") || is_op("**")) error("*args and **kwargs in calls are not supported");
    if (cur().kind == Token::Kind::Name && i_ + 1 < t_.size() &&
        t_[i_ + 1].kind == Token::Kind::Operator && t_[i_ + 1].value == "=") {
      std::string key = next().value;
      next();
      e.kwargs.emplace_back(std::move(key), expression(true));
    } else {
      if (!e.kwargs.empty()) error("a positional argument follows a keyword argument");
      e.args.push_back(expression(true));
    }
  }
  next();
}

}  // namespace zili::data::jinja
