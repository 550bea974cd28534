// The parser's state and its two halves: statements (parser.cpp) and expressions
// (expression_parser.cpp). Private to the engine.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "data/jinja/ast.h"
#include "data/jinja/lexer.h"
#include "util/error.h"

namespace zili::data::jinja {

constexpr int kMaxNesting = 100;  // nested expressions or blocks: deeper is refused

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const std::string& name) : t_(tokens), name_(name) {}
  Body parse();

 private:
  const std::vector<Token>& t_;
  const std::string& name_;
  size_t i_ = 0;
  int depth_ = 0;

  struct Nest {
    Parser& p;
    explicit Nest(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxNesting)
        p.error(fmt::format("nested more than {} levels deep", kMaxNesting));
    }
    ~Nest() { --p.depth_; }
  };

  const Token& cur() const { return t_[i_]; }
  const Token& next() { return t_[i_ < t_.size() - 1 ? i_++ : i_]; }
  [[noreturn]] void error(const std::string& what) const {
    fail("{}:{}: {}", name_, cur().line, what);
  }
  bool is_op(const char* op) const {
    return cur().kind == Token::Kind::Operator && cur().value == op;
  }
  bool is_name(const char* word) const {
    return cur().kind == Token::Kind::Name && cur().value == word;
  }
  bool peek_name(const char* word) const {
    return i_ + 1 < t_.size() && t_[i_ + 1].kind == Token::Kind::Name && t_[i_ + 1].value == word;
  }
  std::string describe() const;
  void expect_op(const char* op);
  std::string expect_name();
  void expect_block_end();

  // Statements (parser.cpp).
  Body statements(const std::set<std::string>& ends, std::string& found);
  std::unique_ptr<Stmt> make(Stmt::Kind kind);
  std::unique_ptr<Stmt> statement();
  std::unique_ptr<Stmt> if_statement();
  std::vector<std::string> targets();
  std::unique_ptr<Stmt> for_statement();
  std::unique_ptr<Stmt> set_statement();
  std::unique_ptr<Stmt> macro_statement();
  std::unique_ptr<Stmt> with_statement();

  // Expressions (expression_parser.cpp), lowest precedence first.
  ExprPtr node(Expr::Kind kind, int line, std::string name = "");
  ExprPtr binary(std::string op, ExprPtr a, ExprPtr b);
  bool tuple_end(const char* extra_end) const;
  ExprPtr tuple(bool condexpr, const char* extra_end = nullptr, bool parenthesized = false);
  ExprPtr expression(bool condexpr);
  ExprPtr or_expr();
  ExprPtr and_expr();
  ExprPtr not_expr();
  ExprPtr compare();
  ExprPtr math1();
  ExprPtr concat();
  ExprPtr math2();
  ExprPtr power();
  ExprPtr unary(bool with_filter);
  ExprPtr primary();
  ExprPtr postfix(ExprPtr e);
  ExprPtr subscript(ExprPtr e);
  ExprPtr filters(ExprPtr e);
  void call_args(Expr& e);
};

}  // namespace zili::data::jinja
