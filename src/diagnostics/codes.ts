/**
 * The catalog of diagnostic codes. Codes are stable: tests and users match on them, never on text.
 * MN0xxx the command line · MN1xxx syntax · MN2xxx names and semantics · MN3xxx shapes · MN4xxx budgets · MN5xxx artifacts and runtime.
 */
export const Codes = {
  Usage: "MN0001",

  UnexpectedCharacter: "MN1001",
  UnexpectedToken: "MN1002",
  ExpectedToken: "MN1003",

  UnknownName: "MN2001",
  UnknownFunction: "MN2002",
  DuplicateName: "MN2003",
  UnknownArgument: "MN2004",
  MissingArgument: "MN2005",
  BadValue: "MN2006",
  UnknownProperty: "MN2007",
  MissingDeclaration: "MN2008",
  UnknownDevice: "MN2009",
  UnknownMember: "MN2010",
  ImportFailed: "MN2011",
  RecursionLimit: "MN2012",
  UnknownRouteTarget: "MN2013",
  RouteIncomplete: "MN2014",
  UnknownLabel: "MN2015",
  DuplicateLabel: "MN2016",
  UnknownPreset: "MN2017",
  WrongUnit: "MN2018",
  UnknownMetric: "MN2019",
  BlockCycle: "MN2020",
  MissingReturn: "MN2021",
  BadStage: "MN2022",
  BadExitClasses: "MN2023",
  UnusedValue: "MN2024",
  BadComplexity: "MN2025",
  AutoNotChain: "MN2026",
  TypeMismatch: "MN2027",
  BadRouteCondition: "MN2028",
  DuplicateDeclaration: "MN2029",
  BadQuantize: "MN2030",

  ShapeMismatch: "MN3001",
  RankMismatch: "MN3002",
  EmptyOutput: "MN3003",
  ExitWidth: "MN3004",
  ChannelGroups: "MN3005",
  BadInputShape: "MN3006",

  WeightBudget: "MN4001",
  ActivationBudget: "MN4002",
  MacBudget: "MN4003",
  AssertionFailed: "MN4004",
  NoFeasibleCut: "MN4005",

  FileUnreadable: "MN5001",
  OutputFailed: "MN5002",
  DataCorrupt: "MN5003",
  DataMissing: "MN5004",
  BuildInvalid: "MN5005",
  WeightsMissing: "MN5006",
  WeightsMismatch: "MN5007",
  CloudUnavailable: "MN5008",
  TrainingStopped: "MN5009",
  BackendUnavailable: "MN5010",
  CalibrationFailed: "MN5011",
} as const;

export type Code = (typeof Codes)[keyof typeof Codes];
