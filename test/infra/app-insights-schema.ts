// The `traces` and `requests` tables as the alert rules see them: scoped to a workspace-based
// Application Insights component (infra/modules/resources.bicep sets WorkspaceResourceId), which
// answers the classic table and column names over the workspace's AppTraces and AppRequests.
//
// Where the columns and types come from: Microsoft's page on migrating to workspace-based
// Application Insights (learn.microsoft.com, azure-monitor/app/convert-classic-resource, "Table
// schemas") maps each classic column to its workspace column with both types. The names below are
// the classic ones; the types are the workspace ones, since the data lives in the workspace. They
// differ in one place that matters: `success` is a string in the classic table and a bool in
// AppRequests (Success), so on a workspace-based component the projector rule's
// `success == true` compares bools (the classic tables' habit, `success == "True"`, would compare
// a bool with a string). The AppRequests and AppTraces reference pages
// (azure-monitor/reference/tables) give the same workspace types (ItemCount int, DurationMs real,
// SeverityLevel int, Properties and Measurements dynamic).
//
// Only columns the migration page maps to a workspace column are declared, so a query naming one
// that is not there fails to compile. One exception: `appName`, which the page marks as removed
// from the workspace tables. It is declared as the column commonly read on a component (believed
// still answered there, as the component's name), but no source found confirms that, so no query
// of ours should rely on it; none does. The other dropped classic column, itemId, is left out.

/** A KQL scalar type name, as Kusto.Language names it. */
export type KqlScalar = 'string' | 'datetime' | 'bool' | 'int' | 'long' | 'real' | 'dynamic';

/** Columns every Application Insights table shares (context of the telemetry item). */
const COMMON: Readonly<Record<string, KqlScalar>> = {
  timestamp: 'datetime',
  itemType: 'string',
  itemCount: 'int',
  customDimensions: 'dynamic',
  customMeasurements: 'dynamic',
  operation_Name: 'string',
  operation_Id: 'string',
  operation_ParentId: 'string',
  operation_SyntheticSource: 'string',
  session_Id: 'string',
  user_Id: 'string',
  user_AuthenticatedId: 'string',
  user_AccountId: 'string',
  application_Version: 'string',
  client_Type: 'string',
  client_Model: 'string',
  client_OS: 'string',
  client_IP: 'string',
  client_City: 'string',
  client_StateOrProvince: 'string',
  client_CountryOrRegion: 'string',
  client_Browser: 'string',
  cloud_RoleName: 'string',
  cloud_RoleInstance: 'string',
  appId: 'string',
  appName: 'string',
  iKey: 'string',
  sdkVersion: 'string',
};

/** Table name → column name → type. */
export const APP_INSIGHTS_TABLES: Readonly<Record<string, Readonly<Record<string, KqlScalar>>>> = {
  traces: {
    ...COMMON,
    message: 'string',
    severityLevel: 'int',
  },
  requests: {
    ...COMMON,
    id: 'string',
    name: 'string',
    url: 'string',
    source: 'string',
    success: 'bool',
    resultCode: 'string',
    duration: 'real',
    performanceBucket: 'string',
  },
};
