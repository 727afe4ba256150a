import type { Span } from "../diagnostics/index.js";

/** Every AST node carries the span of the text it came from. */
interface Node {
  span: Span;
}

export interface Ident extends Node {
  name: string;
}

export type Expr =
  | NumberExpr
  | StringExpr
  | BoolExpr
  | NameExpr
  | ListExpr
  | MemberExpr
  | CallExpr
  | UnaryExpr
  | BinaryExpr;

export interface NumberExpr extends Node {
  kind: "number";
  value: number;
  /** The literal as written, so integers and their units can be reported verbatim. */
  text: string;
  unit?: string;
}
export interface StringExpr extends Node {
  kind: "string";
  value: string;
}
export interface BoolExpr extends Node {
  kind: "bool";
  value: boolean;
}
export interface NameExpr extends Node {
  kind: "name";
  name: string;
}
export interface ListExpr extends Node {
  kind: "list";
  elements: Expr[];
}
export interface MemberExpr extends Node {
  kind: "member";
  object: Expr;
  member: Ident;
}
export interface Argument extends Node {
  key?: Ident;
  value: Expr;
}
export interface CallExpr extends Node {
  kind: "call";
  callee: Expr;
  args: Argument[];
}
export interface UnaryExpr extends Node {
  kind: "unary";
  op: "-" | "not";
  operand: Expr;
}
export type BinaryOp = "or" | "and" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "+" | "-" | "*" | "/" | "%";
export interface BinaryExpr extends Node {
  kind: "binary";
  op: BinaryOp;
  opSpan: Span;
  left: Expr;
  right: Expr;
}

export type Statement = AssignStmt | ExitStmt | ReturnStmt | IfStmt;

export interface AssignStmt extends Node {
  kind: "assign";
  target: Ident;
  value: Expr;
  repeat?: Expr;
}
export interface ExitStmt extends Node {
  kind: "exit";
  name: Ident;
  classes: Expr;
  value: Expr;
}
export interface ReturnStmt extends Node {
  kind: "return";
  value: Expr;
}
export interface IfStmt extends Node {
  kind: "if";
  condition: Expr;
  then: Statement[];
  otherwise: Statement[];
}

export interface Property extends Node {
  key: Ident;
  value: Expr;
}

export interface Param extends Node {
  name: Ident;
  default?: Expr;
}

export interface ImportDecl extends Node {
  kind: "import";
  path: string;
}
export interface ModelDecl extends Node {
  kind: "model";
  name: Ident;
}
export interface InputDecl extends Node {
  kind: "input";
  name: Ident;
  dtype: Ident;
  shape: Expr[];
}
export interface LabelsDecl extends Node {
  kind: "labels";
  value: Expr;
}
export interface DeviceDecl extends Node {
  kind: "device";
  name: Ident;
  preset?: Ident;
  properties: Property[];
}
export interface DefDecl extends Node {
  kind: "def";
  name: Ident;
  params: Param[];
  body: Statement[];
}
export interface BlockDecl extends Node {
  kind: "block";
  name: Ident;
  device: Ident;
  body: Statement[];
}
export interface ComplexityDecl extends Node {
  kind: "complexity";
  properties: Property[];
}
export interface RouteRule extends Node {
  target: Ident;
  /** Absent for `otherwise`. */
  condition?: Expr;
}
export interface RouteDecl extends Node {
  kind: "route";
  rules: RouteRule[];
}
export interface StageDecl extends Node {
  name: Ident;
  properties: Property[];
}
export interface TrainDecl extends Node {
  kind: "train";
  properties: Property[];
  stages: StageDecl[];
}
/** `quantize { calibration: …, images: … }`: how int8 partitions are calibrated at export. */
export interface QuantizeDecl extends Node {
  kind: "quantize";
  properties: Property[];
}
export interface AssertDecl extends Node {
  kind: "assert";
  condition: Expr;
}
export interface ObjectiveDecl extends Node {
  kind: "objective";
  value: Ident;
}

export type Item =
  | ImportDecl
  | ModelDecl
  | InputDecl
  | LabelsDecl
  | DeviceDecl
  | DefDecl
  | BlockDecl
  | ComplexityDecl
  | RouteDecl
  | TrainDecl
  | QuantizeDecl
  | AssertDecl
  | ObjectiveDecl;

export interface SpecFile extends Node {
  items: Item[];
}
