//! The table port on DynamoDB: each call is one request, fields mapped and nothing decided here.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, PutRequest, ReturnValue, ReturnValuesOnConditionCheckFailure, Select,
    TransactWriteItem, Update as AwsUpdate, WriteRequest,
};

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::expr::{Expressions, from_aws, to_aws};
use crate::ports::table::{
    Attr, BatchGot, Cmp, Cond, IndexQuery, Item, QueryPage, Returns, Table, TableError, TransactUpdate,
};
use crate::store::keys::PK;

#[derive(Debug, Clone)]
pub struct DynamoTable {
    client: Client,
    name: String,
}

impl DynamoTable {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        DynamoTable { client, name: name.into() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl crate::store::JobStore {
    /// The job store on the DynamoDB table `table`.
    pub fn new(client: Client, table: impl Into<String>, retention: chrono::Duration) -> Self {
        Self::over(std::sync::Arc::new(DynamoTable::new(client, table)), retention)
    }
}

type AwsItem = HashMap<String, AttributeValue>;

fn to_item(item: &AwsItem) -> Item {
    item.iter().filter_map(|(k, v)| from_aws(v).map(|v| (k.clone(), v))).collect()
}

fn from_item(item: &Item) -> AwsItem {
    item.iter().map(|(k, v)| (k.clone(), to_aws(v))).collect()
}

fn key(value: &str) -> AwsItem {
    HashMap::from([(PK.to_owned(), AttributeValue::S(value.to_owned()))])
}

/// Sort an SDK failure: throttling, server errors and no answer may succeed later; a failed
/// condition carries the item; anything else is the request's fault.
fn classify<E>(
    operation: &'static str,
    err: SdkError<E, HttpResponse>,
    current: Option<Option<&AwsItem>>,
) -> TableError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(current) = current {
        return TableError::ConditionFailed { operation, current: current.map(|i| Box::new(to_item(i))) };
    }
    let transient = match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(e) => {
            matches!(
                e.err().code(),
                Some(
                    "ThrottlingException"
                        | "ProvisionedThroughputExceededException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                        | "ServiceUnavailable"
                )
            ) || e.raw().status().is_server_error()
        }
        _ => false,
    };
    let source = crate::adapters::aws::with_context(Box::new(err));
    match transient {
        true => TableError::Transient { operation, source },
        false => TableError::Rejected { operation, source },
    }
}

#[async_trait::async_trait]
impl Table for DynamoTable {
    async fn put(&self, item: Item, condition: Option<&Cond>) -> Result<(), TableError> {
        let mut e = Expressions::default();
        let condition = condition.map(|c| e.condition(c));
        let mut request = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(from_item(&item)))
            .set_condition_expression(condition)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if !e.names.is_empty() {
            request = request.set_expression_attribute_names(Some(e.names));
        }
        if !e.values.is_empty() {
            request = request.set_expression_attribute_values(Some(e.values));
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) => {
                let failed = err.as_service_error().and_then(|s| match s {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(
                        c,
                    ) => Some(c.item().cloned()),
                    _ => None,
                });
                Err(classify("PutItem", err, failed.as_ref().map(Option::as_ref)))
            }
        }
    }

    async fn get(&self, key_value: &str, consistent: bool) -> Result<Option<Item>, TableError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(key(key_value)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| classify("GetItem", e, None))?;
        Ok(out.item().map(to_item))
    }

    async fn update(
        &self,
        key_value: &str,
        update: &crate::ports::table::Update,
        cond: Option<&Cond>,
    ) -> Result<Option<Item>, TableError> {
        let mut e = Expressions::default();
        let update_expression = e.update(update);
        let condition = cond.map(|c| e.condition(c));
        let returns = match update.returns {
            Returns::AllNew => ReturnValue::AllNew,
            Returns::Nothing => ReturnValue::None,
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .set_key(Some(key(key_value)))
            .update_expression(update_expression)
            .set_condition_expression(condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values((!e.values.is_empty()).then_some(e.values))
            .return_values(returns)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.attributes().map(to_item)),
            Err(err) => {
                let failed = err.as_service_error().and_then(|s| match s {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => {
                        Some(c.item().cloned())
                    }
                    _ => None,
                });
                Err(classify("UpdateItem", err, failed.as_ref().map(Option::as_ref)))
            }
        }
    }

    async fn delete(&self, key_value: &str, condition: Option<&Cond>) -> Result<(), TableError> {
        let mut e = Expressions::default();
        let condition = condition.map(|c| e.condition(c));
        let result = self
            .client
            .delete_item()
            .table_name(&self.name)
            .set_key(Some(key(key_value)))
            .set_condition_expression(condition)
            .set_expression_attribute_names((!e.names.is_empty()).then_some(e.names))
            .set_expression_attribute_values((!e.values.is_empty()).then_some(e.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                let failed = err.as_service_error().and_then(|s| match s {
                    aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(c) => {
                        Some(c.item().cloned())
                    }
                    _ => None,
                });
                Err(classify("DeleteItem", err, failed.as_ref().map(Option::as_ref)))
            }
        }
    }

    async fn batch_get(&self, keys: &[String]) -> Result<BatchGot, TableError> {
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys.iter().map(|k| key(k)).collect()))
            .build()
            .map_err(|e| TableError::Rejected { operation: "BatchGetItem", source: Box::new(e) })?;
        let out = self
            .client
            .batch_get_item()
            .request_items(&self.name, request)
            .send()
            .await
            .map_err(|e| classify("BatchGetItem", e, None))?;
        let items =
            out.responses().and_then(|r| r.get(&self.name)).into_iter().flatten().map(to_item).collect();
        let unprocessed = out
            .unprocessed_keys()
            .and_then(|u| u.get(&self.name))
            .map(|k| k.keys().iter().filter_map(|k| k.get(PK)?.as_s().ok().cloned()).collect())
            .unwrap_or_default();
        Ok(BatchGot { items, unprocessed })
    }

    async fn batch_put(&self, items: Vec<Item>) -> Result<Vec<Item>, TableError> {
        let requests = items
            .iter()
            .map(|item| {
                let put = PutRequest::builder().set_item(Some(from_item(item))).build();
                put.map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(|e| TableError::Rejected { operation: "BatchWriteItem", source: Box::new(e) })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .batch_write_item()
            .request_items(&self.name, requests)
            .send()
            .await
            .map_err(|e| classify("BatchWriteItem", e, None))?;
        Ok(out
            .unprocessed_items()
            .and_then(|u| u.get(&self.name))
            .into_iter()
            .flatten()
            .filter_map(|w| w.put_request().map(|p| to_item(p.item())))
            .collect())
    }

    async fn query(&self, query: &IndexQuery) -> Result<QueryPage, TableError> {
        let mut e = Expressions::default();
        let mut key_condition = vec![Cond::eq(query.index.pk, Attr::s(&query.partition))];
        match (&query.sort_from, &query.sort_below) {
            (None, Some(below)) => key_condition.push(Cond::cmp(query.index.sk, Cmp::Lt, Attr::s(below))),
            (Some(from), None) => key_condition.push(Cond::cmp(query.index.sk, Cmp::Ge, Attr::s(from))),
            _ => {}
        }
        let mut key_expression = e.key_condition(&key_condition);
        // Both ends: BETWEEN, which includes its upper end; so one row more is asked for, the
        // row at `below` (if there is one) dropped, and the page cut back to its limit.
        let range = query.sort_from.is_some().then_some(query.sort_below.as_deref()).flatten();
        if let (Some(from), Some(below)) = (&query.sort_from, range) {
            key_expression = format!("{key_expression} AND {}", e.between(query.index.sk, from, below));
        }
        let limit = query.limit.map(|l| l + usize::from(range.is_some()));
        let filter = query.filter.as_ref().map(|f| e.condition(f));
        let out = self
            .client
            .query()
            .table_name(&self.name)
            .index_name(query.index.name)
            .key_condition_expression(key_expression)
            .set_filter_expression(filter)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .scan_index_forward(query.ascending)
            .set_limit(limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX)))
            .set_select(query.count_only.then_some(Select::Count))
            .set_exclusive_start_key(query.start_after.as_ref().map(from_item))
            .send()
            .await
            .map_err(|e| classify("Query", e, None))?;
        let mut page = QueryPage {
            items: out.items().iter().map(to_item).collect(),
            count: usize::try_from(out.count()).unwrap_or(0),
            last_key: out.last_evaluated_key().map(to_item),
        };
        if let Some(below) = range {
            without_upper_end(&mut page, query, below);
        }
        Ok(page)
    }

    async fn transact_update(&self, updates: &[TransactUpdate]) -> Result<(), TableError> {
        const OP: &str = "TransactWriteItems";
        let items = updates
            .iter()
            .map(|u| {
                transact_item(&self.name, u)
                    .map_err(|e| TableError::Rejected { operation: OP, source: Box::new(e) })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let err = match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        let reasons: Vec<String> = match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                e.cancellation_reasons().iter().filter_map(|r| r.code().map(str::to_owned)).collect()
            }
            _ => Vec::new(),
        };
        if reasons.iter().any(|code| code == "ConditionalCheckFailed") {
            return Err(TableError::ConditionFailed { operation: OP, current: None });
        }
        let conflict = matches!(
            err.as_service_error(),
            Some(TransactWriteItemsError::TransactionInProgressException(_))
        ) || reasons.iter().any(|code| {
            matches!(
                code.as_str(),
                "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
            )
        });
        match conflict {
            true => Err(TableError::Transient {
                operation: OP,
                source: crate::adapters::aws::with_context(Box::new(err)),
            }),
            false => Err(classify(OP, err, None)),
        }
    }
}

/// One update of a TransactWriteItems request, its expressions its own.
fn transact_item(
    table: &str,
    u: &TransactUpdate,
) -> Result<TransactWriteItem, aws_sdk_dynamodb::error::BuildError> {
    let mut e = Expressions::default();
    let expression = e.update(&u.update);
    let condition = u.condition.as_ref().map(|c| e.condition(c));
    let update = AwsUpdate::builder()
        .table_name(table)
        .set_key(Some(key(&u.key)))
        .update_expression(expression)
        .set_condition_expression(condition)
        .set_expression_attribute_names(Some(e.names))
        .set_expression_attribute_values((!e.values.is_empty()).then_some(e.values))
        .build()?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// A page of a BETWEEN query asked for one row more than `query.limit`: without the row at
/// `below` (the range leaves it out), and cut back to the limit, the last row kept saying where
/// to go on.
fn without_upper_end(page: &mut QueryPage, query: &IndexQuery, below: &str) {
    let at_below = |item: &Item| item.get(query.index.sk).and_then(Attr::as_str) == Some(below);
    let before = page.items.len();
    page.items.retain(|item| !at_below(item));
    page.count -= before - page.items.len();
    let Some(limit) = query.limit.filter(|l| page.items.len() > *l) else { return };
    page.items.truncate(limit);
    page.count = limit;
    let keys = [PK, query.index.pk, query.index.sk];
    page.last_key = page.items.last().map(|item| {
        item.iter()
            .filter(|(name, _)| keys.contains(&name.as_str()))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect()
    });
}
