// Where the service's structured records go (alerts, audit): the Functions InvocationContext
// logger in Azure, the console locally. Every use case that reports takes one.
export interface AlertLog {
  log(message: string): void;
}
