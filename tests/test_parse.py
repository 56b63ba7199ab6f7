"""Parse stage alone: one realistic snippet per language with its definitions and imports checked
exactly, references spot-checked; bad input of every kind; the language registry."""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tree_sitter import QueryCursor

from repoctx.parse.languages import (COMMENT_SYNTAX, LANGUAGES, comment_prefix, get_parser, get_query,
                               language_for_file, language_for_path)
from repoctx.model import FileFacts
from repoctx.parse.extract import count_lines, extract, parse_file


def facts(path: str, text: str | bytes) -> FileFacts:
    """The facts of a file, from the unguarded extractor (a bug raises here) and checked to be
    what parse_file gives."""
    data = text.encode() if isinstance(text, str) else text
    language = language_for_file(path, data)
    f = extract(language, data) if language else FileFacts(None, count_lines(data))
    assert parse_file(path, data) == f
    return f


def syms(f: FileFacts) -> list[tuple]:
    return [(s.name, s.kind, s.start_line, s.end_line, s.parent) for s in f.symbols]


def imps(f: FileFacts) -> list[tuple]:
    return [(i.module, i.names, i.line) + (("external",) if i.external else ()) for i in f.imports]


def refs(f: FileFacts) -> set[tuple[str, int]]:
    return {(r.name, r.line) for r in f.references}


def sym(f: FileFacts, name: str, line: int | None = None):
    (s,) = [s for s in f.symbols if s.name == name and (line is None or s.start_line == line)]
    return s


# --- one snippet per language ----------------------------------------------------------------------

PY = '''\
"""Shop client."""
from __future__ import annotations

import os.path as osp, json
from ..core import (Base,
                    helper as h)
from . import util
from .models import *

RETRIES = 3


# Sends orders.
@dataclass
class Client(Base):
    """A client."""

    def send(self,
             payload: dict,
             retries: int = RETRIES) -> dict:
        data = json.dumps(payload)
        return util.post(self.url, data)

    @property
    def url(self):
        def inner():
            return h()
        return inner()


# Entry point.
async def main():
    return Client().send({})
'''


def test_python():
    f = facts("shop/client.py", PY)
    assert (f.language, f.lines, f.parse_errors) == ("python", 33, False)
    assert syms(f) == [
        ("RETRIES", "constant", 10, 10, None),
        ("Client", "class", 14, 28, None),
        ("send", "method", 18, 22, "Client"),
        ("url", "method", 24, 28, "Client"),
        ("inner", "function", 26, 27, "url"),
        ("main", "function", 32, 33, None),
    ]
    assert imps(f) == [
        ("__future__", ("annotations",), 2, "external"),
        ("os.path", (), 4),
        ("json", (), 4),
        ("..core", ("Base", "helper"), 5),
        (".", ("util",), 7),
        (".models", ("*",), 8),
    ]
    send = sym(f, "send")
    assert send.signature == "def send(self,\npayload: dict,\nretries: int = RETRIES) -> dict:"
    assert send.body_start_line == 21 and send.doc == ""
    client = sym(f, "Client")
    assert client.signature == "class Client(Base):"  # the decorator is in the lines, not the signature
    assert client.doc == '"""A client."""' and client.body_start_line == 16
    assert sym(f, "main").doc == "# Entry point."
    assert sym(f, "RETRIES").signature == "RETRIES = 3" and sym(f, "RETRIES").body_start_line is None
    r = refs(f)
    assert {("dumps", 21), ("json", 21), ("post", 22), ("url", 22), ("RETRIES", 20), ("h", 27), ("inner", 28),
            ("Client", 33), ("send", 33), ("dataclass", 14), ("Base", 15)} <= r
    assert ("send", 18) not in r and ("RETRIES", 10) not in r      # definition sites
    assert not {n for n, _ in r} & {"self", "def", "return"}
    lines = [ref.line for ref in f.references]
    assert lines == sorted(lines) and len(f.references) == len(r)  # line order, one per (name, line)


JS = '''\
import React, { useState as useS, useEffect } from 'react';
import * as api from './api';
export { formatDate } from './dates';
export * from './types';
const { join } = require('path');
const lazy = () => import('./lazy');

/** Clamp a value. */
export function clamp(x, lo, hi) {
  return Math.min(Math.max(x, lo), hi);
}

export default class Slider extends Component {
  handle = (e) => { this.setValue(e.target.value); };

  setValue(v) {
    this.value = clamp(v, this.min, this.max);
  }
}

module.exports.helper = function (a) { return api.get(a); };
'''


def test_javascript():
    f = facts("src/slider.jsx", JS)
    assert (f.language, f.lines, f.parse_errors) == ("javascript", 21, False)
    assert syms(f) == [
        ("lazy", "function", 6, 6, None),
        ("clamp", "function", 9, 11, None),
        ("Slider", "class", 13, 19, None),
        ("handle", "method", 14, 14, "Slider"),
        ("setValue", "method", 16, 18, "Slider"),
        ("helper", "function", 21, 21, None),
    ]
    assert imps(f) == [
        ("react", ("default", "React", "useState", "useEffect"), 1),
        ("./api", ("*", "api"), 2),
        ("./dates", ("formatDate",), 3),
        ("./types", ("*",), 4),
        ("path", ("join",), 5),
        ("./lazy", (), 6),
    ]
    clamp = sym(f, "clamp")
    assert clamp.signature == "export function clamp(x, lo, hi)" and clamp.doc == "/** Clamp a value. */"
    assert sym(f, "Slider").signature == "export default class Slider extends Component"
    assert sym(f, "lazy").signature == "const lazy = () =>"
    assert {("clamp", 17), ("setValue", 14), ("min", 10), ("Component", 13), ("get", 21)} <= refs(f)
    assert ("clamp", 9) not in refs(f)
    assert ("value", 17) not in refs(f)  # `this.value = …` assigns, it uses no definition


def test_names_that_use_no_definition_elsewhere_are_no_references():
    """Issue 26, item 1: a property of an object of unknown type, an object key, a keyword argument,
    a binding's target are not uses of a same-named definition elsewhere; members of the enclosing
    class, of a capitalised name and of an imported module are."""
    js = facts("lib/request.js", (
        "var send = require('send');\n"
        "const opts = {onerror: handler, host: 'example.com'};\n"
        "req.get = function () { return this.headers.referrer; };\n"
        "var c = res.headers['set-cookie'];\n"
        "send.mime.lookup(x); this.accepts(t); Buffer.from(s);\n"
        "switch (k) { case LIMIT: y = ok ? big : small; }\n"))
    r = refs(js)
    assert not {("onerror", 2), ("host", 2), ("referrer", 3), ("headers", 4)} & r
    assert {("handler", 2), ("headers", 3), ("res", 4), ("mime", 5), ("accepts", 5), ("from", 5),
            ("LIMIT", 6), ("big", 6), ("small", 6)} <= r
    py = facts("pkg/views.py", (
        "from flask import url_for\n"
        "import helpers\n"
        "def view(request):\n"
        "    d = {}\n"
        "    d.update(extra)\n"
        "    url = url_for(endpoint='x')\n"
        "    self.update(); helpers.update(); Form.update()\n"))
    r = refs(py)
    assert not {("d", 4), ("d", 5), ("update", 5), ("endpoint", 6), ("url", 6)} & r  # `d` is view's local
    assert {("extra", 5), ("url_for", 6), ("update", 7), ("Form", 7), ("helpers", 7)} <= r
    go = facts("svc/a.go", (
        "package svc\n"
        "import \"example.com/m/logx\"\n"
        "func (s *S) Run() { cfg := Conf{Host: h}; logx.Info(cfg); cfg.store.Close(); s.limit(); switch v { case Max: } }\n"))
    r = refs(go)
    assert ("Host", 3) not in r
    # Go declares its variables' types: the package's and imports' scope decides a member's method
    assert {("Conf", 3), ("h", 3), ("Info", 3), ("Max", 3), ("cfg", 3), ("limit", 3), ("Close", 3), ("store", 3)} <= r


TS = '''\
import type { Order } from './model';
import fs = require('fs');

/** Money in cents. */
export type Cents = number;

export enum Status { Open, Closed }

export interface Repo<T> {
  find(id: string): Promise<T>;
}

namespace Util {
  export function id(x: string): string { return x; }
}

export abstract class Base {
  abstract save(o: Order): void;
}

export class OrderRepo extends Base implements Repo<Order> {
  private cache = new Map<string, Order>();

  async find(id: string): Promise<Order> {
    return this.cache.get(id)!;
  }

  save(o: Order): void {
    fs.writeFileSync(o.id, JSON.stringify(o));
  }
}

export const total = (os: Order[]): Cents =>
  os.reduce((s, o) => s + o.cents, 0);
'''


def test_typescript():
    f = facts("src/repo.mts", TS)
    assert (f.language, f.lines, f.parse_errors) == ("typescript", 34, False)
    assert syms(f) == [
        ("Cents", "type", 5, 5, None),
        ("Status", "enum", 7, 7, None),
        ("Repo", "interface", 9, 11, None),
        ("find", "method", 10, 10, "Repo"),
        ("Util", "module", 13, 15, None),
        ("id", "function", 14, 14, "Util"),
        ("Base", "class", 17, 19, None),
        ("save", "method", 18, 18, "Base"),
        ("OrderRepo", "class", 21, 31, None),
        ("find", "method", 24, 26, "OrderRepo"),
        ("save", "method", 28, 30, "OrderRepo"),
        ("total", "function", 33, 34, None),
    ]
    assert imps(f) == [("./model", ("Order",), 1), ("fs", ("default", "fs"), 2)]
    assert sym(f, "Cents").doc == "/** Money in cents. */"
    assert sym(f, "find", 10).signature == "find(id: string): Promise<T>" and sym(f, "find", 10).body_start_line is None
    assert sym(f, "total").signature == "export const total = (os: Order[]): Cents =>"
    assert sym(f, "total").body_start_line == 34
    assert {("Order", 18), ("Promise", 24), ("writeFileSync", 29), ("Cents", 33)} <= refs(f)


TSX = '''\
import { useState } from 'react';
import Button from './Button';

type Props = { label: string };

// A counter.
export function Counter({ label }: Props) {
  const [n, setN] = useState(0);
  return <Button onClick={() => setN(n + 1)}>{label}: {n}</Button>;
}

export const Plain = () => <div className="plain" />;
'''


def test_tsx():
    f = facts("ui/Counter.tsx", TSX)
    assert (f.language, f.parse_errors) == ("tsx", False)
    assert syms(f) == [("Props", "type", 4, 4, None), ("Counter", "function", 7, 10, None),
                       ("Plain", "function", 12, 12, None)]
    assert imps(f) == [("react", ("useState",), 1), ("./Button", ("default", "Button"), 2)]
    assert sym(f, "Counter").doc == "// A counter."
    assert {("Button", 9), ("setN", 9), ("Props", 7), ("useState", 8)} <= refs(f)


GO = '''\
package shop

import (
\t"fmt"
\tstr "strings"

\t"example.com/shop/price"
)

// MaxItems caps a cart.
const MaxItems = 10

var ErrEmpty = fmt.Errorf("empty")

type (
\tID   int
\tName = string
)

// Cart holds items.
type Cart struct {
\tItems []float64
}

type Totaler interface {
\tTotal() float64
}

// Total sums the cart.
func (c *Cart) Total() float64 {
\treturn price.Round(sum(c.Items))
}

func New[T any](xs []T) *Cart { return &Cart{} }
'''


def test_go():
    f = facts("shop/cart.go", GO)
    assert (f.language, f.lines, f.parse_errors) == ("go", 34, False)
    assert syms(f) == [
        ("MaxItems", "constant", 11, 11, None),
        ("ErrEmpty", "variable", 13, 13, None),
        ("ID", "type", 16, 16, None),
        ("Name", "type", 17, 17, None),
        ("Cart", "struct", 21, 23, None),
        ("Totaler", "interface", 25, 27, None),
        ("Total", "method", 26, 26, "Totaler"),
        ("Total", "method", 30, 32, "Cart"),   # the receiver type is the parent
        ("New", "function", 34, 34, None),
    ]
    assert imps(f) == [("fmt", (), 4), ("strings", (), 5), ("example.com/shop/price", (), 7)]
    total = sym(f, "Total", 30)
    assert total.signature == "func (c *Cart) Total() float64" and total.doc == "// Total sums the cart."
    assert sym(f, "Total", 26).signature == "Total() float64"
    assert sym(f, "Cart").signature == "type Cart struct" and sym(f, "Cart").body_start_line == 21
    assert sym(f, "MaxItems").doc == "// MaxItems caps a cart."
    assert {("Round", 31), ("price", 31), ("Items", 31), ("Cart", 30), ("Errorf", 13)} <= refs(f)


RUST = '''\
use std::collections::HashMap;
use crate::model::{Order, Item as LineItem, self};
use super::util::*;

mod pricing;

/// The maximum number of items.
pub const MAX: usize = 64;

/// A shopping cart.
#[derive(Debug, Default)]
pub struct Cart {
    items: HashMap<u32, LineItem>,
}

pub enum Event { Added(u32), Removed }

pub trait Priced {
    fn price(&self) -> u64;
    fn discounted(&self) -> u64 { self.price() * 9 / 10 }
}

impl Priced for Cart {
    fn price(&self) -> u64 {
        self.items.values().map(|i| pricing::cents(i)).sum()
    }
}

impl<T> Wrapper<T> {
    pub fn new(inner: T) -> Self { Wrapper(inner) }
}

macro_rules! cart { () => { Cart::default() }; }

pub type Orders = Vec<Order>;
'''


def test_rust():
    f = facts("src/cart.rs", RUST)
    assert (f.language, f.lines, f.parse_errors) == ("rust", 35, False)
    assert syms(f) == [
        ("pricing", "module", 5, 5, None),
        ("MAX", "constant", 8, 8, None),
        ("Cart", "struct", 12, 14, None),
        ("Event", "enum", 16, 16, None),
        ("Priced", "trait", 18, 21, None),
        ("price", "method", 19, 19, "Priced"),
        ("discounted", "method", 20, 20, "Priced"),
        ("price", "method", 24, 26, "Cart"),      # impl Trait for Cart: the impl type is the parent
        ("new", "method", 30, 30, "Wrapper"),
        ("cart", "macro", 33, 33, None),
        ("Orders", "type", 35, 35, None),
    ]
    assert imps(f) == [
        ("std::collections::HashMap", (), 1),
        ("crate::model::Order", (), 2),
        ("crate::model::Item", (), 2),
        ("crate::model", (), 2),
        ("super::util::*", (), 3),
        ("mod:pricing", (), 5),
    ]
    assert sym(f, "Cart").doc == "/// A shopping cart."     # the attribute between is skipped
    assert sym(f, "MAX").doc == "/// The maximum number of items."
    assert sym(f, "price", 19).signature == "fn price(&self) -> u64;"
    assert sym(f, "new").signature == "pub fn new(inner: T) -> Self"
    assert {("cents", 25), ("pricing", 25), ("HashMap", 13), ("Wrapper", 30), ("price", 20)} <= refs(f)


JAVA = '''\
package com.shop;

import java.util.List;
import java.util.*;
import static java.lang.Math.max;

/** An order. */
@Entity
public class Order implements Priced {
    private int count;

    public Order(int count) { this.count = count; }

    @Override
    public double total(List<Item> items) {
        return Pricing.sum(items) * max(count, 1);
    }

    enum State { NEW, DONE }
}

interface Priced {
    double total(List<Item> items);
}

record Point(int x, int y) {
    double norm() { return Math.sqrt(x * x + y * y); }
}
'''


def test_java():
    f = facts("src/main/java/com/shop/Order.java", JAVA)
    assert (f.language, f.lines, f.parse_errors) == ("java", 28, False)
    assert syms(f) == [
        ("Order", "class", 8, 20, None),
        ("total", "method", 14, 17, "Order"),
        ("State", "enum", 19, 19, "Order"),
        ("Priced", "interface", 22, 24, None),
        ("total", "method", 23, 23, "Priced"),
        ("Point", "record", 26, 28, None),
        ("norm", "method", 27, 27, "Point"),
    ]
    assert imps(f) == [("java.util.List", (), 3), ("java.util.*", (), 4), ("java.lang.Math.max", (), 5)]
    order = sym(f, "Order")
    assert order.doc == "/** An order. */" and order.signature == "public class Order implements Priced"
    assert sym(f, "total", 14).signature == "public double total(List<Item> items)"  # @Override left out
    assert {("Pricing", 16), ("sum", 16), ("max", 16), ("List", 15), ("Priced", 9)} <= refs(f)


C = '''\
#ifndef SHAPE_H
#define SHAPE_H

#include <stddef.h>
#include "point.h"

#define MAX_SHAPES 64
#define AREA(s) ((s)->w * (s)->h)

/* A rectangle. */
struct rect {
    int w, h;
};

typedef struct {
    double r;
} circle_t;

enum kind { RECT, CIRCLE };

typedef int (*visit_fn)(struct rect *r);

/* Area of a rectangle. */
int rect_area(const struct rect *r);
struct rect *rect_new(int w, int h);

static inline int twice(int x) { return 2 * x; }

struct rect r0;
enum kind default_kind;

#endif
'''


def test_c_header():
    f = facts("include/shape.h", C)
    assert (f.language, f.lines, f.parse_errors) == ("c", 32, False)
    assert syms(f) == [          # no include guard, no `struct rect r0;` / `enum kind k;` uses
        ("MAX_SHAPES", "macro", 7, 7, None),
        ("AREA", "macro", 8, 8, None),
        ("rect", "struct", 11, 13, None),
        ("circle_t", "type", 15, 17, None),
        ("kind", "enum", 19, 19, None),
        ("visit_fn", "type", 21, 21, None),
        ("rect_area", "function", 24, 24, None),
        ("rect_new", "function", 25, 25, None),
        ("twice", "function", 27, 27, None),
    ]
    assert imps(f) == [("stddef.h", (), 4, "external"), ("point.h", (), 5)]
    area = sym(f, "rect_area")
    assert area.signature == "int rect_area(const struct rect *r);" and area.doc == "/* Area of a rectangle. */"
    assert sym(f, "twice").signature == "static inline int twice(int x)" and sym(f, "twice").body_start_line == 27
    assert sym(f, "rect").doc == "/* A rectangle. */"
    assert {("rect", 25), ("default_kind", 30), ("kind", 30)} <= refs(f)


CPP = '''\
#include "shape.h"
#include <vector>

namespace geo {

/// A 2-D point.
template <typename T>
struct Point {
    T x, y;
    T dot(const Point& o) const { return x * o.x + y * o.y; }
};

class Shape {
public:
    virtual ~Shape() = default;
    virtual double area() const = 0;
    static Shape* make(int kind);
};

double Shape::area() const { return 0; }

enum class Color { Red, Green };

using Points = std::vector<Point<double>>;
}  // namespace geo

int main() { return geo::Shape::make(1) != nullptr; }
'''


def test_cpp():
    f = facts("src/shape.cpp", CPP)
    assert (f.language, f.lines, f.parse_errors) == ("cpp", 27, False)
    assert syms(f) == [
        ("geo", "namespace", 4, 25, None),
        ("Point", "struct", 7, 11, "geo"),
        ("dot", "method", 10, 10, "Point"),
        ("Shape", "class", 13, 18, "geo"),
        ("area", "method", 16, 16, "Shape"),
        ("make", "method", 17, 17, "Shape"),
        ("area", "method", 20, 20, "Shape"),     # `Shape::area` defined outside the class
        ("Color", "enum", 22, 22, "geo"),
        ("Points", "type", 24, 24, "geo"),
        ("main", "function", 27, 27, None),
    ]
    assert imps(f) == [("shape.h", (), 1), ("vector", (), 2, "external")]
    point = sym(f, "Point")
    assert point.signature == "template <typename T>\nstruct Point" and point.doc == "/// A 2-D point."
    assert sym(f, "area", 20).signature == "double Shape::area() const"
    assert {("make", 27), ("Shape", 27), ("geo", 27), ("Point", 10), ("vector", 24)} <= refs(f)


RUBY = '''\
require 'json'
require_relative 'lib/helper'

# Greets people.
module Greeting
  VERSION = "1.0"

  # A greeter.
  class Greeter < Base
    def initialize(name)
      @name = name
    end

    def self.create(name)
      new(name)
    end

    def greet
      Helper.format(@name)
    end
    alias hello greet
  end
end

def top_level(x)
  Greeting::Greeter.create(x).greet
end
'''


def test_ruby():
    f = facts("lib/greeting.rb", RUBY)
    assert (f.language, f.lines, f.parse_errors) == ("ruby", 27, False)
    assert syms(f) == [
        ("Greeting", "module", 5, 23, None),
        ("VERSION", "constant", 6, 6, "Greeting"),
        ("Greeter", "class", 9, 22, "Greeting"),
        ("initialize", "method", 10, 12, "Greeter"),
        ("create", "method", 14, 16, "Greeter"),
        ("greet", "method", 18, 20, "Greeter"),
        ("hello", "method", 21, 21, "Greeter"),
        ("top_level", "function", 25, 27, None),
    ]
    assert imps(f) == [("json", (), 1), ("./lib/helper", (), 2)]
    assert sym(f, "Greeter").doc == "# A greeter." and sym(f, "Greeter").signature == "class Greeter < Base"
    assert sym(f, "create").signature == "def self.create(name)"
    assert {("Helper", 19), ("format", 19), ("create", 26), ("Greeter", 26), ("greet", 21)} <= refs(f)


PHP = '''\
<?php
namespace App\\Models;

use App\\Contracts\\Repo;
use App\\Support\\{Str, Arr as A};
require_once __DIR__ . '/bootstrap.php';

/** A user. */
class User extends Model implements Repo
{
    const TABLE = 'users';
    private string $name;

    public function greet(string $who): string
    {
        return Str::upper($this->name) . helper($who);
    }
}

interface Shape { public function area(): float; }

trait Greets { }

enum Suit: string { case Hearts = 'H'; }

function helper($x) { return new User(); }
'''


def test_php():
    f = facts("app/Models/User.php", PHP)
    assert (f.language, f.lines, f.parse_errors) == ("php", 26, False)
    assert syms(f) == [
        ("App\\Models", "namespace", 2, 2, None),
        ("User", "class", 9, 18, None),
        ("TABLE", "constant", 11, 11, "User"),
        ("name", "field", 12, 12, "User"),
        ("greet", "method", 14, 17, "User"),
        ("Shape", "interface", 20, 20, None),
        ("area", "method", 20, 20, "Shape"),
        ("Greets", "trait", 22, 22, None),
        ("Suit", "enum", 24, 24, None),
        ("helper", "function", 26, 26, None),
    ]
    assert imps(f) == [("App\\Contracts\\Repo", (), 4), ("App\\Support\\Str", (), 5),
                       ("App\\Support\\Arr", (), 5), ("./bootstrap.php", (), 6)]
    greet = sym(f, "greet")
    assert greet.signature == "public function greet(string $who): string" and greet.body_start_line == 15
    assert sym(f, "User").doc == "/** A user. */"
    assert {("upper", 16), ("helper", 16), ("User", 26), ("Model", 9)} <= refs(f)


CSHARP = '''\
using System;
using System.Collections.Generic;
using static System.Math;
using Alias = Foo.Bar.Baz;

namespace Shop.Orders
{
    /// <summary>An order.</summary>
    [Serializable]
    public class Order : IOrder
    {
        private int count;
        public string Name { get; set; }
        public Order(int c) { count = c; }
        public int Total(List<int> xs) => Helper.Sum(xs);
        struct Inner { }
    }

    public interface IOrder { int Total(List<int> xs); }
    public enum State { New, Done }
    public record Point(int X, int Y);
}
'''


def test_csharp():
    f = facts("Shop/Orders/Order.cs", CSHARP)
    assert (f.language, f.lines, f.parse_errors) == ("csharp", 22, False)
    assert syms(f) == [
        ("Shop.Orders", "namespace", 6, 22, None),
        ("Order", "class", 9, 17, "Shop.Orders"),
        ("Name", "property", 13, 13, "Order"),
        ("Total", "method", 15, 15, "Order"),
        ("Inner", "struct", 16, 16, "Order"),
        ("IOrder", "interface", 19, 19, "Shop.Orders"),
        ("Total", "method", 19, 19, "IOrder"),
        ("State", "enum", 20, 20, "Shop.Orders"),
        ("Point", "record", 21, 21, "Shop.Orders"),
    ]
    assert imps(f) == [("System", (), 1), ("System.Collections.Generic", (), 2), ("System.Math", (), 3),
                       ("Foo.Bar.Baz", (), 4)]
    order = sym(f, "Order")
    assert order.doc == "/// <summary>An order.</summary>"
    assert order.signature == "public class Order : IOrder"       # [Serializable] left out
    assert sym(f, "Total", 15).signature == "public int Total(List<int> xs)"
    assert {("Sum", 15), ("Helper", 15), ("List", 15), ("IOrder", 10)} <= refs(f)


KOTLIN = '''\
package com.example.app

import kotlin.math.max
import com.example.util.*
import com.example.Foo as Bar

/** Greets. */
@Suppress("unused")
class Greeter(val name: String) : Base(), Runnable {
    fun greet(times: Int): String {
        return helper(name).repeat(max(times, 1))
    }
    companion object {
        fun create() = Greeter("x")
    }
}

interface Shape {
    fun area(): Double
}

object Registry {
    fun register(x: Shape) {}
}

enum class Color { RED, GREEN }

typealias Name = String

const val LIMIT = 3

fun String.shout(): String = uppercase()
'''


def test_kotlin():
    f = facts("src/main/kotlin/Greeter.kt", KOTLIN)
    assert (f.language, f.lines, f.parse_errors) == ("kotlin", 32, False)
    assert syms(f) == [
        ("Greeter", "class", 8, 16, None),
        ("greet", "method", 10, 12, "Greeter"),
        ("create", "method", 14, 14, "Greeter"),
        ("Shape", "interface", 18, 20, None),
        ("area", "method", 19, 19, "Shape"),
        ("Registry", "object", 22, 24, None),
        ("register", "method", 23, 23, "Registry"),
        ("Color", "enum", 26, 26, None),
        ("Name", "type", 28, 28, None),
        ("LIMIT", "constant", 30, 30, None),
        ("shout", "function", 32, 32, None),
    ]
    assert imps(f) == [("kotlin.math.max", (), 3), ("com.example.util.*", (), 4), ("com.example.Foo", (), 5)]
    greeter = sym(f, "Greeter")
    assert greeter.doc == "/** Greets. */"
    assert greeter.signature == "class Greeter(val name: String) : Base(), Runnable"
    assert sym(f, "shout").signature == "fun String.shout(): String"
    assert {("helper", 11), ("repeat", 11), ("max", 11), ("Shape", 23), ("uppercase", 32)} <= refs(f)


def test_kotlin_one_line_class_is_an_error_but_keeps_its_definitions():
    f = facts("A.kt", "class A { fun m() {} }\n")
    assert f.parse_errors
    assert syms(f) == [("A", "class", 1, 1, None), ("m", "method", 1, 1, "A")]


# --- rules across languages ------------------------------------------------------------------------


def test_references_are_unique_per_line_and_skip_only_the_definition_site():
    f = facts("m.py", "def f(f):\n    return g(f) + g(f)\n\n\nx = x + 1\n")
    # `def f(f)`: the parameter and its uses are f's local, no use of a definition (issue 26 item 1)
    assert sorted(refs(f)) == [("g", 2), ("x", 5)]
    assert len(f.references) == 2


def test_doc_is_only_the_comment_block_directly_above():
    f = facts("m.go", "package m\n\n// not mine: a blank line follows\n\n// Mine.\n// Two lines.\nfunc A() {}\n"
                      "var x = 1 // trailing\nfunc B() {}\n")
    assert sym(f, "A").doc == "// Mine.\n// Two lines."
    assert sym(f, "B").doc == ""


def test_python_docstring_is_preferred_and_kept_as_written():
    f = facts("m.py", '# comment\ndef f():\n    # not a docstring either\n    """Doc.\n\n    More."""\n')
    assert sym(f, "f").doc == '"""Doc.\n\n    More."""'
    f = facts("m.py", "# A comment.\ndef g():\n    return 1\n")
    assert sym(f, "g").doc == "# A comment."


def test_nested_function_is_a_function_and_class_members_are_methods():
    f = facts("m.rb", "def outer\n  def inner\n  end\nend\nclass K\n  def m\n  end\nend\n")
    assert syms(f) == [("outer", "function", 1, 4, None), ("inner", "function", 2, 3, "outer"),
                       ("K", "class", 5, 8, None), ("m", "method", 6, 7, "K")]


def test_go_method_on_generic_pointer_receiver():
    f = facts("l.go", "package l\n\nfunc (l *List[T]) Push(v T) {}\n")
    assert syms(f) == [("Push", "method", 3, 3, "List")]


def test_cpp_header_with_a_dot_h_extension_is_read_as_cpp():
    f = facts("geo/shape.h", "#pragma once\nnamespace geo {\nclass Shape {\npublic:\n  void draw();\n};\n}\n")
    assert f.language == "cpp" and not f.parse_errors
    assert syms(f) == [("geo", "namespace", 2, 7, None), ("Shape", "class", 3, 6, "geo"),
                       ("draw", "method", 5, 5, "Shape")]
    assert language_for_file("x.h", b"int f(void);\n/* class of things: */\n") == "c"


# --- bad input -------------------------------------------------------------------------------------


def test_python_syntax_error_keeps_the_functions_before_and_after():
    f = facts("broken.py", "def before():\n    pass\n\ndef broken(:\n\ndef after():\n    return before()\n")
    assert f.parse_errors
    names = [s.name for s in f.symbols]
    assert names[0] == "before" and names[-1] == "after"
    assert sym(f, "after").start_line == 6 and ("before", 7) in refs(f)


def test_invalid_utf8_is_read_with_replacement():
    f = facts("latin1.py", b"# caf\xe9\ndef cafe():\n    return '\xe9'\n")
    assert syms(f) == [("cafe", "function", 2, 3, None)]
    assert sym(f, "cafe").doc == "# caf\ufffd" and f.lines == 3


def test_crlf_line_endings():
    f = facts("crlf.py", b"# Doc.\r\ndef a(x,\r\n      y):\r\n    return x\r\n")
    assert f.lines == 4 and not f.parse_errors
    a = sym(f, "a")
    assert (a.start_line, a.end_line, a.signature, a.doc) == (2, 4, "def a(x,\ny):", "# Doc.")
    f = facts("crlf.ts", b"// A.\r\nexport function a(): void {\r\n}\r\n")
    assert sym(f, "a").doc == "// A." and sym(f, "a").end_line == 3


def test_utf8_bom_is_skipped():
    f = facts("bom.py", b"\xef\xbb\xbfimport os\ndef f(): pass\n")
    assert not f.parse_errors and imps(f) == [("os", (), 1)] and syms(f) == [("f", "function", 2, 2, None)]


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_empty_and_whitespace_files(language):
    path = "x" + LANGUAGES[language].extensions[0]
    assert facts(path, b"") == FileFacts(language, 0)
    f = facts(path, b"\n\r\n  \n")
    assert (f.lines, f.symbols, f.references, f.imports) == (3, [], [], [])


def test_line_counts():
    assert [count_lines(b) for b in (b"", b"a", b"a\n", b"a\nb", b"a\r\nb\r\n", b"\n\n")] == [0, 1, 1, 2, 2, 2]


def test_unknown_language_gives_lines_only():
    assert facts("notes.unknownext", "plain text\nsurvives") == FileFacts(None, 2)
    assert facts("README.md", "# def f():\n") == FileFacts(None, 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(language=st.sampled_from(sorted(LANGUAGES)), data=st.binary(max_size=3000))
def test_random_bytes_never_raise(language, data):
    f = extract(language, data)
    assert f.language == language and f.lines == count_lines(data)
    assert all(1 <= s.start_line <= s.end_line <= max(f.lines, 1) for s in f.symbols)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_shuffled_source_never_raises(language):
    """Every snippet above cut into lines, shuffled and sliced: unbalanced brackets, dangling bodies."""
    rng = random.Random(language)
    lines = "\n".join((PY, JS, TS, TSX, GO, RUST, JAVA, C, CPP, RUBY, PHP, CSHARP, KOTLIN)).split("\n")
    for _ in range(20):
        rng.shuffle(lines)
        data = "\n".join(lines[: rng.randrange(len(lines))]).encode()
        f = extract(language, data)
        assert all(s.start_line <= s.end_line for s in f.symbols)


DEEP = 10_000


@pytest.mark.parametrize("path,text,check", [
    ("deep.py", "x = " + "[" * DEEP + "]" * DEEP + "\n", lambda f: syms(f) == [("x", "constant", 1, 1, None)]),
    ("deep.py", "".join(" " * i + "if x:\n" for i in range(DEEP)) + " " * DEEP + "pass\n",
     lambda f: f.lines == DEEP + 1),
    ("deep.js", "function f() {" * DEEP + "}" * DEEP,
     lambda f: len(f.symbols) == DEEP and f.symbols[-1].parent == "f" and not f.parse_errors),
    ("deep.rs", "mod a {" * DEEP + "}" * DEEP,
     lambda f: len(f.symbols) == DEEP and f.symbols[1].parent == "a"),
    ("deep.rs", "use a::" + "{b::" * DEEP + "c" + "}" * DEEP + ";",
     lambda f: imps(f) == [("a::" + "b::" * DEEP + "c", (), 1)]),
    ("deep.go", "package p\nfunc f() {" + "if x {" * DEEP + "}" * DEEP + "}\n", lambda f: len(f.symbols) == 1),
    ("deep.c", "int f() {" + "{" * DEEP + "}" * DEEP + "}\n", lambda f: syms(f) == [("f", "function", 1, 1, None)]),
    ("deep.java", "class A {" * DEEP + "}" * DEEP, lambda f: len(f.symbols) == DEEP),
    ("deep.rb", "module A\n" * DEEP + "end\n" * DEEP, lambda f: len(f.symbols) == DEEP),
    ("deep.ts", "type T = " + "Array<" * DEEP + "string" + ">" * DEEP + ";\n", lambda f: len(f.symbols) == 1),
    ("deep.cs", "namespace A {" * DEEP + "}" * DEEP, lambda f: len(f.symbols) == DEEP),
    ("deep.php", "<?php " + "function f() {" * DEEP + "}" * DEEP, lambda f: len(f.symbols) == DEEP),
    ("deep.kt", "class A {\n" * 3000 + "}\n" * 3000, lambda f: len(f.symbols) == 3000),
])
def test_deep_nesting(path, text, check):
    assert check(facts(path, text))


# --- the language registry -------------------------------------------------------------------------


def test_language_for_path():
    table = {"a/b.py": "python", "x.pyi": "python", "c.jsx": "javascript", "d.mjs": "javascript",
             "e.cjs": "javascript", "f.ts": "typescript", "g.mts": "typescript", "h.cts": "typescript",
             "i.tsx": "tsx", "j.go": "go", "k.rs": "rust", "l.java": "java", "m.c": "c", "n.h": "c",
             "o.cpp": "cpp", "p.hpp": "cpp", "q.cc": "cpp", "r.rb": "ruby", "Rakefile": "ruby",
             "s.php": "php", "t.cs": "csharp", "u.kt": "kotlin", "v.kts": "kotlin", "W.PY": "python",
             "README.md": None, "Makefile": None, "x.json": None, "noext": None, "y.d.ts": "typescript"}
    assert {p: language_for_path(p) for p in table} == table


def test_comment_prefixes():
    assert COMMENT_SYNTAX["python"] == "#" and COMMENT_SYNTAX["rust"] == "//"
    assert [comment_prefix(x) for x in ("python", "src/a.go", "db/schema.sql", "ci.yaml", "pyproject.toml",
                                        "run.sh", "page.html", "README.md", "Makefile", "x.unknown", "lib.lua")] \
        == ["#", "//", "--", "#", "#", "#", ("<!--", "-->"), None, "#", None, "--"]
    assert set(COMMENT_SYNTAX) == set(LANGUAGES)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_queries_compile_with_the_shipped_reference_patterns_disabled(language):
    query = get_query(language)
    assert query is get_query(language)  # compiled once per process
    snippet = {"python": PY, "javascript": JS, "typescript": TS, "tsx": TSX, "go": GO, "rust": RUST, "java": JAVA,
               "c": C, "cpp": CPP, "ruby": RUBY, "php": PHP, "csharp": CSHARP, "kotlin": KOTLIN}[language]
    caps = QueryCursor(query).captures(get_parser(language).parse(snippet.encode()).root_node)
    assert "ref" in caps and "name" in caps
    assert not [c for c in caps if c.startswith("reference.")]


def test_parse_file_keeps_the_file_when_extraction_fails(monkeypatch):
    import repoctx.parse.extract as parse

    def broken(*args):
        raise RuntimeError("an unforeseen tree")

    monkeypatch.setattr(parse, "_symbols", broken)
    assert parse.parse_file("a.py", b"def f():\n    pass\n") == FileFacts("python", 2, parse_errors=True)
    with pytest.raises(RuntimeError):
        parse.extract("python", b"def f():\n    pass\n")


def test_parse_file_leaves_the_garbage_collector_as_it_found_it():
    import gc
    assert gc.isenabled()
    parse_file("a.py", b"def f(:\n")
    assert gc.isenabled()
    gc.disable()
    try:
        parse_file("a.py", b"x = 1\n")
        assert not gc.isenabled()
    finally:
        gc.enable()
