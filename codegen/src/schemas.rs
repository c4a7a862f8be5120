//! Turns the contract's schemas into Rust types: structs, enums and validating newtypes, each
//! with serde impls that enforce every constraint and a `JsonSchema` impl that re-emits the
//! schema keyword for keyword.
//!
//! schemars' derive would drop length and range keywords and merge "optional" with "nullable",
//! so the schema of every generated type is written out here from the contract itself.

use std::collections::BTreeMap;

use openapiv3::{
    AdditionalProperties, ArrayType, IntegerFormat, IntegerType, NumberFormat, NumberType,
    ObjectType, OpenAPI, ReferenceOr, Schema, SchemaKind, StringFormat, StringType, Type,
    VariantOrUnknownOrEmpty,
};
use proc_macro2::TokenStream;
use quote::quote;

use crate::GenerateError;
use crate::names::{field_identifier, pointer_segment, type_identifier};

/// The Rust side of one schema use: the type a field or parameter has, and an expression of
/// type `schemars::schema::Schema` (inside a `json_schema(generator)` body) that describes it.
pub struct ResolvedSchema {
    pub rust_type: TokenStream,
    pub schema_expression: TokenStream,
}

/// A generated struct field, in parts, so a field can be declared with or without its serde
/// attributes.
pub struct FieldParts {
    pub doc: TokenStream,
    pub serde_attributes: TokenStream,
    pub ident: proc_macro2::Ident,
    pub rust_type: TokenStream,
}

impl FieldParts {
    pub fn declaration(&self, with_serde_attributes: bool) -> TokenStream {
        let Self {
            doc,
            serde_attributes,
            ident,
            rust_type,
        } = self;
        let serde_attributes = if with_serde_attributes {
            serde_attributes.clone()
        } else {
            quote!()
        };
        quote! {
            #doc
            #serde_attributes
            pub #ident: #rust_type,
        }
    }
}

/// Collects the generated type definitions while schemas are resolved.
pub struct TypeGenerator<'a> {
    spec: &'a OpenAPI,
    definitions: Vec<TokenStream>,
    /// Generated type name to the pointer of the schema that produced it.
    type_origins: BTreeMap<String, String>,
    /// Inline schemas already resolved, by pointer, so a schema reached twice yields one type.
    resolved_inline: BTreeMap<String, (TokenStream, TokenStream)>,
    /// Functions that supply fields' default values.
    default_functions: Vec<TokenStream>,
}

const COMPONENT_PREFIX: &str = "#/components/schemas/";

fn literal_u32(value: usize, pointer: &str) -> Result<u32, GenerateError> {
    u32::try_from(value)
        .map_err(|_| GenerateError::new(pointer, format!("{value} is too large a limit")))
}

fn option_tokens<T: quote::ToTokens>(value: Option<T>) -> TokenStream {
    match value {
        Some(value) => quote!(Some(#value)),
        None => quote!(None),
    }
}

/// The keywords a schema may carry and still be read by this generator; anything else in
/// `SchemaData` is prose (kept as description) or refused.
fn check_schema_data(schema: &Schema, pointer: &str) -> Result<(), GenerateError> {
    let data = &schema.schema_data;
    if data.discriminator.is_some() {
        return Err(GenerateError::new(
            pointer,
            "`discriminator` is not supported",
        ));
    }
    if data.read_only || data.write_only {
        return Err(GenerateError::new(
            pointer,
            "`readOnly` and `writeOnly` are not supported: use separate request and response schemas",
        ));
    }
    Ok(())
}

impl<'a> TypeGenerator<'a> {
    pub fn new(spec: &'a OpenAPI) -> Self {
        Self {
            spec,
            definitions: Vec::new(),
            type_origins: BTreeMap::new(),
            resolved_inline: BTreeMap::new(),
            default_functions: Vec::new(),
        }
    }

    pub fn into_definitions(self) -> (Vec<TokenStream>, Vec<TokenStream>) {
        (self.definitions, self.default_functions)
    }

    fn claim_type_name(
        &mut self,
        name: &str,
        pointer: &str,
    ) -> Result<proc_macro2::Ident, GenerateError> {
        let ident = type_identifier(name, pointer)?;
        if let Some(previous) = self.type_origins.get(&ident.to_string()) {
            return Err(GenerateError::new(
                pointer,
                format!(
                    "this schema's Rust type `{ident}` is already generated for {previous}; rename one of them"
                ),
            ));
        }
        self.type_origins
            .insert(ident.to_string(), pointer.to_owned());
        Ok(ident)
    }

    /// Generates one type per entry of `components.schemas`, each referenceable by its key.
    pub fn generate_components(&mut self) -> Result<(), GenerateError> {
        let Some(components) = &self.spec.components else {
            return Ok(());
        };
        for (key, schema) in &components.schemas {
            let pointer = format!("{COMPONENT_PREFIX}{}", pointer_segment(key));
            match schema {
                ReferenceOr::Reference { reference } => {
                    let target = self.component_type(reference, &pointer)?;
                    let ident = self.claim_type_name(key, &pointer)?;
                    self.definitions.push(quote! { pub type #ident = #target; });
                }
                ReferenceOr::Item(schema) => {
                    let ident = self.claim_type_name(key, &pointer)?;
                    self.generate_named_type(&ident, Some(key), schema, &pointer)?;
                }
            }
        }
        Ok(())
    }

    fn component_type(&self, reference: &str, pointer: &str) -> Result<TokenStream, GenerateError> {
        let key = reference.strip_prefix(COMPONENT_PREFIX).ok_or_else(|| {
            GenerateError::new(
                pointer,
                format!(
                    "`{reference}` is not supported: only `#/components/schemas/...` references are"
                ),
            )
        })?;
        let exists = self
            .spec
            .components
            .as_ref()
            .is_some_and(|components| components.schemas.contains_key(key));
        if !exists {
            return Err(GenerateError::new(
                pointer,
                format!("`{reference}` does not resolve"),
            ));
        }
        let ident = type_identifier(key, pointer)?;
        Ok(quote!(types::#ident))
    }

    /// Resolves a schema used by a property, parameter, array item, body or response.
    /// `name_hint` names any type generated for an inline schema.
    pub fn resolve(
        &mut self,
        schema: &ReferenceOr<Schema>,
        pointer: &str,
        name_hint: &str,
    ) -> Result<ResolvedSchema, GenerateError> {
        let schema = match schema {
            ReferenceOr::Reference { reference } => {
                let rust_type = self.component_type(reference, pointer)?;
                return Ok(ResolvedSchema {
                    schema_expression: quote!(generator.subschema_for::<#rust_type>()),
                    rust_type,
                });
            }
            ReferenceOr::Item(schema) => schema,
        };
        self.resolve_inline(schema, pointer, name_hint)
    }

    fn resolve_boxed(
        &mut self,
        schema: &ReferenceOr<Box<Schema>>,
        pointer: &str,
        name_hint: &str,
    ) -> Result<ResolvedSchema, GenerateError> {
        match schema {
            ReferenceOr::Reference { reference } => self.resolve(
                &ReferenceOr::Reference {
                    reference: reference.clone(),
                },
                pointer,
                name_hint,
            ),
            ReferenceOr::Item(schema) => self.resolve_inline(schema, pointer, name_hint),
        }
    }

    fn resolve_inline(
        &mut self,
        schema: &Schema,
        pointer: &str,
        name_hint: &str,
    ) -> Result<ResolvedSchema, GenerateError> {
        if let Some((rust_type, schema_expression)) = self.resolved_inline.get(pointer) {
            return Ok(ResolvedSchema {
                rust_type: rust_type.clone(),
                schema_expression: schema_expression.clone(),
            });
        }
        let resolved = self.resolve_inline_uncached(schema, pointer, name_hint)?;
        self.resolved_inline.insert(
            pointer.to_owned(),
            (
                resolved.rust_type.clone(),
                resolved.schema_expression.clone(),
            ),
        );
        Ok(resolved)
    }

    fn resolve_inline_uncached(
        &mut self,
        schema: &Schema,
        pointer: &str,
        name_hint: &str,
    ) -> Result<ResolvedSchema, GenerateError> {
        check_schema_data(schema, pointer)?;
        if self.needs_own_type(schema, pointer)? {
            let ident = self.claim_type_name(name_hint, pointer)?;
            self.generate_named_type(&ident, None, schema, pointer)?;
            return Ok(ResolvedSchema {
                schema_expression: quote!(generator.subschema_for::<types::#ident>()),
                rust_type: quote!(types::#ident),
            });
        }
        let rust_type = self.plain_type(schema, pointer, name_hint)?;
        let schema_expression = self.schema_builder(schema, pointer, name_hint)?;
        Ok(ResolvedSchema {
            rust_type,
            schema_expression: quote!(#schema_expression.build()),
        })
    }

    /// Whether a schema needs a generated type: objects, enums and anything with constraints
    /// that a plain Rust type would not enforce.
    fn needs_own_type(&self, schema: &Schema, pointer: &str) -> Result<bool, GenerateError> {
        Ok(match &schema.schema_kind {
            SchemaKind::Type(Type::Object(_)) => true,
            SchemaKind::Type(Type::String(string)) => {
                !string.enumeration.is_empty()
                    || string.min_length.is_some()
                    || string.max_length.is_some()
                    || string.pattern.is_some()
                    || matches!(&string.format, VariantOrUnknownOrEmpty::Unknown(format) if format == "email")
            }
            SchemaKind::Type(Type::Integer(integer)) => {
                integer.minimum.is_some() || integer.maximum.is_some()
            }
            SchemaKind::Type(Type::Number(number)) => {
                number.minimum.is_some() || number.maximum.is_some()
            }
            SchemaKind::Type(Type::Array(array)) => {
                array.min_items.is_some() || array.max_items.is_some()
            }
            SchemaKind::Type(Type::Boolean(_)) => false,
            other => return Err(unsupported_kind(other, pointer)),
        })
    }

    /// The Rust type of a schema that needs no generated type of its own.
    fn plain_type(
        &mut self,
        schema: &Schema,
        pointer: &str,
        name_hint: &str,
    ) -> Result<TokenStream, GenerateError> {
        Ok(match &schema.schema_kind {
            SchemaKind::Type(Type::String(string)) => string_rust_type(string, pointer)?,
            SchemaKind::Type(Type::Integer(integer)) => integer_rust_type(integer, pointer)?,
            SchemaKind::Type(Type::Number(number)) => number_rust_type(number, pointer)?,
            SchemaKind::Type(Type::Boolean(_)) => quote!(bool),
            SchemaKind::Type(Type::Array(array)) => {
                let items = self.array_items(array, pointer, name_hint)?;
                let item_type = items.rust_type;
                quote!(::std::vec::Vec<#item_type>)
            }
            other => return Err(unsupported_kind(other, pointer)),
        })
    }

    fn array_items(
        &mut self,
        array: &ArrayType,
        pointer: &str,
        name_hint: &str,
    ) -> Result<ResolvedSchema, GenerateError> {
        if array.unique_items {
            return Err(GenerateError::new(
                pointer,
                "`uniqueItems` is not supported",
            ));
        }
        let items = array
            .items
            .as_ref()
            .ok_or_else(|| GenerateError::new(pointer, "an array needs `items`"))?;
        self.resolve_boxed(
            items,
            &format!("{pointer}/items"),
            &format!("{name_hint}Item"),
        )
    }

    /// A `support::SchemaBuilder` expression (without `.build()`) restating every keyword of a
    /// schema: this is what makes the served document carry the contract's constraints.
    fn schema_builder(
        &mut self,
        schema: &Schema,
        pointer: &str,
        name_hint: &str,
    ) -> Result<TokenStream, GenerateError> {
        let mut builder = match &schema.schema_kind {
            SchemaKind::Type(Type::String(string)) => {
                let mut builder = quote!(support::SchemaBuilder::string());
                if let Some(format) = string_format_name(&string.format) {
                    builder = quote!(#builder.format(#format));
                }
                if let Some(min_length) = string.min_length {
                    let min_length = literal_u32(min_length, pointer)?;
                    builder = quote!(#builder.min_length(#min_length));
                }
                if let Some(max_length) = string.max_length {
                    let max_length = literal_u32(max_length, pointer)?;
                    builder = quote!(#builder.max_length(#max_length));
                }
                if let Some(pattern) = &string.pattern {
                    builder = quote!(#builder.pattern(#pattern));
                }
                let values = string_enum_values(string, pointer)?;
                if !values.is_empty() {
                    builder = quote!(#builder.enum_values(&[#(#values),*]));
                }
                builder
            }
            SchemaKind::Type(Type::Integer(integer)) => {
                let mut builder = quote!(support::SchemaBuilder::integer());
                match &integer.format {
                    VariantOrUnknownOrEmpty::Item(IntegerFormat::Int32) => {
                        builder = quote!(#builder.format("int32"))
                    }
                    VariantOrUnknownOrEmpty::Item(IntegerFormat::Int64) => {
                        builder = quote!(#builder.format("int64"))
                    }
                    _ => {}
                }
                builder = with_bounds(
                    builder,
                    integer.minimum.map(|minimum| minimum as f64),
                    integer.exclusive_minimum,
                    integer.maximum.map(|maximum| maximum as f64),
                    integer.exclusive_maximum,
                );
                builder
            }
            SchemaKind::Type(Type::Number(number)) => {
                let mut builder = quote!(support::SchemaBuilder::number());
                match &number.format {
                    VariantOrUnknownOrEmpty::Item(NumberFormat::Float) => {
                        builder = quote!(#builder.format("float"))
                    }
                    VariantOrUnknownOrEmpty::Item(NumberFormat::Double) => {
                        builder = quote!(#builder.format("double"))
                    }
                    _ => {}
                }
                with_bounds(
                    builder,
                    number.minimum,
                    number.exclusive_minimum,
                    number.maximum,
                    number.exclusive_maximum,
                )
            }
            SchemaKind::Type(Type::Boolean(_)) => quote!(support::SchemaBuilder::boolean()),
            SchemaKind::Type(Type::Array(array)) => {
                let items = self
                    .array_items(array, pointer, name_hint)?
                    .schema_expression;
                let mut builder = quote!(support::SchemaBuilder::array(#items));
                if let Some(min_items) = array.min_items {
                    let min_items = literal_u32(min_items, pointer)?;
                    builder = quote!(#builder.min_items(#min_items));
                }
                if let Some(max_items) = array.max_items {
                    let max_items = literal_u32(max_items, pointer)?;
                    builder = quote!(#builder.max_items(#max_items));
                }
                builder
            }
            SchemaKind::Type(Type::Object(object)) => {
                let mut builder = quote!(support::SchemaBuilder::object());
                for (name, property) in &object.properties {
                    let property_pointer =
                        format!("{pointer}/properties/{}", pointer_segment(name));
                    let hint = format!("{name_hint}_{name}");
                    let resolved = self.resolve_boxed(property, &property_pointer, &hint)?;
                    let property_schema = resolved.schema_expression;
                    let required = object.required.contains(name);
                    builder = quote!(#builder.property(#name, #property_schema, #required));
                }
                match &object.additional_properties {
                    None => {}
                    Some(AdditionalProperties::Any(allowed)) => {
                        builder = quote!(#builder.additional_properties(#allowed));
                    }
                    Some(AdditionalProperties::Schema(_)) => {
                        return Err(GenerateError::new(
                            &format!("{pointer}/additionalProperties"),
                            "a schema for `additionalProperties` is not supported; use `true` or `false`",
                        ));
                    }
                }
                builder
            }
            other => return Err(unsupported_kind(other, pointer)),
        };
        if let Some(description) = &schema.schema_data.description {
            builder = quote!(#builder.description(#description));
        }
        if let Some(default) = &schema.schema_data.default {
            let default = json_tokens(default);
            builder = quote!(#builder.default_value(::serde_json::json!(#default)));
        }
        if schema.schema_data.nullable {
            builder = quote!(#builder.nullable());
        }
        Ok(builder)
    }

    /// Generates the type for a schema: a struct for an object, an enum for a string enum, and a
    /// validating newtype otherwise. `schema_name` is `Some` for components, which the served
    /// document references by that name; inline types are inlined.
    fn generate_named_type(
        &mut self,
        ident: &proc_macro2::Ident,
        schema_name: Option<&str>,
        schema: &Schema,
        pointer: &str,
    ) -> Result<(), GenerateError> {
        check_schema_data(schema, pointer)?;
        if schema.schema_data.nullable {
            return Err(GenerateError::new(
                pointer,
                "`nullable` is supported on properties, not on a whole named schema",
            ));
        }
        let name_hint = ident.to_string();
        let builder = self.schema_builder(schema, pointer, &name_hint)?;
        let doc = doc_attribute(schema.schema_data.description.as_deref());
        let body = match &schema.schema_kind {
            SchemaKind::Type(Type::Object(object)) => {
                self.object_definition(ident, object, pointer, &doc)?
            }
            SchemaKind::Type(Type::String(string)) if !string.enumeration.is_empty() => {
                enum_definition(ident, string, pointer, &doc)?
            }
            _ => self.newtype_definition(ident, schema, pointer, &doc)?,
        };
        let (schema_name, referenceable) = match schema_name {
            Some(name) => (name.to_owned(), true),
            None => (name_hint.clone(), false),
        };
        self.definitions.push(quote! {
            #body

            impl ::schemars::JsonSchema for #ident {
                fn schema_name() -> ::std::string::String {
                    #schema_name.to_owned()
                }

                fn is_referenceable() -> bool {
                    #referenceable
                }

                fn json_schema(
                    #[allow(unused_variables)] generator: &mut ::schemars::r#gen::SchemaGenerator,
                ) -> ::schemars::schema::Schema {
                    #builder.build()
                }
            }
        });
        Ok(())
    }

    fn object_definition(
        &mut self,
        ident: &proc_macro2::Ident,
        object: &ObjectType,
        pointer: &str,
        doc: &TokenStream,
    ) -> Result<TokenStream, GenerateError> {
        if object.min_properties.is_some() || object.max_properties.is_some() {
            return Err(GenerateError::new(
                pointer,
                "`minProperties` and `maxProperties` are not supported",
            ));
        }
        for required in &object.required {
            if !object.properties.contains_key(required) {
                return Err(GenerateError::new(
                    &format!("{pointer}/required"),
                    format!("`{required}` is required but not a property"),
                ));
            }
        }
        let deny_unknown = matches!(
            object.additional_properties,
            Some(AdditionalProperties::Any(false))
        );
        let container_attribute = if deny_unknown {
            quote!(#[serde(deny_unknown_fields)])
        } else {
            quote!()
        };
        let mut fields = Vec::new();
        for (name, property) in &object.properties {
            let property_pointer = format!("{pointer}/properties/{}", pointer_segment(name));
            let required = object.required.contains(name);
            let field = self.field_parts(
                name,
                &unbox(property),
                required,
                &property_pointer,
                &format!("{ident}_{name}"),
            )?;
            fields.push(field.declaration(true));
        }
        Ok(quote! {
            #doc
            #[derive(Clone, Debug, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
            #container_attribute
            pub struct #ident {
                #(#fields)*
            }
        })
    }

    /// One struct field for a property or parameter: its type says whether it is optional and
    /// nullable, and its serde attributes make absent, `null` and default behave as the contract
    /// says.
    pub fn field_parts(
        &mut self,
        name: &str,
        property: &ReferenceOr<Schema>,
        required: bool,
        pointer: &str,
        name_hint: &str,
    ) -> Result<FieldParts, GenerateError> {
        let field = field_identifier(name, pointer)?;
        let resolved = self.resolve(property, pointer, name_hint)?;
        let field_type = resolved.rust_type;
        let inline_schema = match property {
            ReferenceOr::Item(schema) => Some(schema),
            ReferenceOr::Reference { .. } => None,
        };
        let nullable = inline_schema.is_some_and(|schema| schema.schema_data.nullable);
        let default = inline_schema.and_then(|schema| schema.schema_data.default.as_ref());
        let rename = if field.to_string().trim_start_matches("r#") != name {
            quote!(#[serde(rename = #name)])
        } else {
            quote!()
        };
        let property_doc = doc_attribute(
            inline_schema.and_then(|schema| schema.schema_data.description.as_deref()),
        );
        let (field_type, serde_attribute) = match (required, nullable, default) {
            (false, false, Some(default)) => {
                let schema = inline_schema.ok_or_else(|| {
                    GenerateError::new(pointer, "a default needs an inline schema")
                })?;
                check_default(schema, default, &format!("{pointer}/default"))?;
                let function_name = format!("{}_default", crate::names::snake_case(name_hint));
                let function = field_identifier(&function_name, pointer)?;
                let default = json_tokens(default);
                self.default_functions.push(quote! {
                    pub fn #function() -> #field_type {
                        ::serde_json::from_value(::serde_json::json!(#default))
                            .expect("the generator checked this default against its schema")
                    }
                });
                let path = format!("defaults::{function_name}");
                (quote!(#field_type), quote!(#[serde(default = #path)]))
            }
            (true, false, _) => (quote!(#field_type), quote!()),
            (false, false, None) => (
                quote!(::std::option::Option<#field_type>),
                quote!(#[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "support::deserialize_present")]),
            ),
            (true, true, _) => (
                quote!(::std::option::Option<#field_type>),
                quote!(#[serde(deserialize_with = "support::deserialize_nullable")]),
            ),
            (false, true, _) => (
                quote!(::std::option::Option<::std::option::Option<#field_type>>),
                quote!(#[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "support::deserialize_optional_nullable")]),
            ),
        };
        Ok(FieldParts {
            doc: property_doc,
            serde_attributes: quote!(#rename #serde_attribute),
            ident: field,
            rust_type: field_type,
        })
    }

    fn newtype_definition(
        &mut self,
        ident: &proc_macro2::Ident,
        schema: &Schema,
        pointer: &str,
        doc: &TokenStream,
    ) -> Result<TokenStream, GenerateError> {
        let name = ident.to_string();
        let (inner_type, checks, accessors, derives, debug): (
            TokenStream,
            TokenStream,
            TokenStream,
            TokenStream,
            TokenStream,
        ) = match &schema.schema_kind {
            SchemaKind::Type(Type::String(string)) => {
                let inner = string_rust_type(string, pointer)?;
                let is_plain_string =
                    inner.to_string() == quote!(::std::string::String).to_string();
                let has_string_checks = string.min_length.is_some()
                    || string.max_length.is_some()
                    || string.pattern.is_some();
                if !is_plain_string && has_string_checks {
                    return Err(GenerateError::new(
                        pointer,
                        "length and pattern constraints are only supported on plain strings",
                    ));
                }
                let length_check = if string.min_length.is_some() || string.max_length.is_some() {
                    let min_length = option_tokens(string.min_length);
                    let max_length = option_tokens(string.max_length);
                    quote!(support::check_length(&value, #min_length, #max_length)?;)
                } else {
                    quote!()
                };
                let pattern_check = match &string.pattern {
                    Some(pattern) => {
                        if let Err(error) = regex_lite::Regex::new(pattern) {
                            return Err(GenerateError::new(
                                &format!("{pointer}/pattern"),
                                format!("the pattern does not compile: {error}"),
                            ));
                        }
                        match crate::patterns::CharacterClassPattern::parse(pattern) {
                            Some(class) => class.check_tokens(pattern),
                            None => quote! {
                                static PATTERN: ::std::sync::LazyLock<::regex_lite::Regex> = ::std::sync::LazyLock::new(|| {
                                    ::regex_lite::Regex::new(#pattern).expect("the generator compiled this pattern at build time")
                                });
                                support::check_pattern(&value, &PATTERN)?;
                            },
                        }
                    }
                    None => quote!(),
                };
                let email_check = if matches!(&string.format, VariantOrUnknownOrEmpty::Unknown(format) if format == "email")
                {
                    quote!(support::check_email(&value)?;)
                } else {
                    quote!()
                };
                let is_password = matches!(
                    string.format,
                    VariantOrUnknownOrEmpty::Item(StringFormat::Password)
                );
                let debug = if is_password {
                    // A password must never reach a log line through `{:?}`.
                    quote! {
                        impl ::std::fmt::Debug for #ident {
                            fn fmt(&self, formatter: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                                formatter.write_str(concat!(#name, "(<redacted>)"))
                            }
                        }
                    }
                } else {
                    quote! {
                        impl ::std::fmt::Debug for #ident {
                            fn fmt(&self, formatter: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                                ::std::fmt::Debug::fmt(&self.0, formatter)
                            }
                        }
                    }
                };
                let accessors = if is_plain_string {
                    quote! {
                        pub fn as_str(&self) -> &str {
                            &self.0
                        }
                    }
                } else {
                    quote!()
                };
                (
                    inner,
                    quote!(#length_check #pattern_check #email_check),
                    accessors,
                    quote!(Clone, PartialEq, Eq, Hash),
                    debug,
                )
            }
            SchemaKind::Type(Type::Integer(integer)) => {
                let inner = integer_rust_type(integer, pointer)?;
                let minimum = option_tokens(integer.minimum.map(|minimum| {
                    if integer.exclusive_minimum {
                        minimum + 1
                    } else {
                        minimum
                    }
                }));
                let maximum = option_tokens(integer.maximum.map(|maximum| {
                    if integer.exclusive_maximum {
                        maximum - 1
                    } else {
                        maximum
                    }
                }));
                (
                    inner,
                    quote!(support::check_integer_range(i64::from(value), #minimum, #maximum)?;),
                    quote!(),
                    quote!(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord),
                    debug_through_inner(ident),
                )
            }
            SchemaKind::Type(Type::Number(number)) => {
                let inner = number_rust_type(number, pointer)?;
                let minimum = option_tokens(number.minimum.map(|minimum| {
                    let exclusive = number.exclusive_minimum;
                    quote!((#minimum, #exclusive))
                }));
                let maximum = option_tokens(number.maximum.map(|maximum| {
                    let exclusive = number.exclusive_maximum;
                    quote!((#maximum, #exclusive))
                }));
                (
                    inner,
                    quote!(support::check_number_range(f64::from(value), #minimum, #maximum)?;),
                    quote!(),
                    quote!(Clone, Copy, PartialEq, PartialOrd),
                    debug_through_inner(ident),
                )
            }
            SchemaKind::Type(Type::Array(array)) => {
                let items = self.array_items(array, pointer, &name)?;
                let item_type = items.rust_type;
                let min_items = option_tokens(array.min_items);
                let max_items = option_tokens(array.max_items);
                (
                    quote!(::std::vec::Vec<#item_type>),
                    quote!(support::check_item_count(value.len(), #min_items, #max_items)?;),
                    quote! {
                        pub fn as_slice(&self) -> &[#item_type] {
                            &self.0
                        }
                    },
                    quote!(Clone, PartialEq),
                    debug_through_inner(ident),
                )
            }
            SchemaKind::Type(Type::Boolean(_)) => (
                quote!(bool),
                quote!(),
                quote!(),
                quote!(Clone, Copy, PartialEq, Eq, Hash),
                debug_through_inner(ident),
            ),
            other => return Err(unsupported_kind(other, pointer)),
        };
        Ok(quote! {
            #doc
            #[derive(#derives)]
            pub struct #ident(#inner_type);

            #debug

            impl #ident {
                #accessors

                pub fn into_inner(self) -> #inner_type {
                    self.0
                }
            }

            impl ::std::convert::TryFrom<#inner_type> for #ident {
                type Error = support::ConstraintViolation;

                fn try_from(value: #inner_type) -> ::std::result::Result<Self, Self::Error> {
                    #checks
                    Ok(Self(value))
                }
            }

            impl<'de> ::serde::Deserialize<'de> for #ident {
                fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                    let value = <#inner_type as ::serde::Deserialize>::deserialize(deserializer)?;
                    Self::try_from(value).map_err(::serde::de::Error::custom)
                }
            }

            impl ::serde::Serialize for #ident {
                fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                    ::serde::Serialize::serialize(&self.0, serializer)
                }
            }
        })
    }
}

/// `ReferenceOr<Box<Schema>>` (properties, items) as the `ReferenceOr<Schema>` used elsewhere.
pub fn unbox(schema: &ReferenceOr<Box<Schema>>) -> ReferenceOr<Schema> {
    match schema {
        ReferenceOr::Reference { reference } => ReferenceOr::Reference {
            reference: reference.clone(),
        },
        ReferenceOr::Item(schema) => ReferenceOr::Item((**schema).clone()),
    }
}

/// Refuses a default value that its own schema would reject, so the generated default
/// function cannot fail at run time.
fn check_default(
    schema: &Schema,
    default: &serde_json::Value,
    pointer: &str,
) -> Result<(), GenerateError> {
    let refuse = |why: &str| {
        Err(GenerateError::new(
            pointer,
            format!("the default {default} {why}"),
        ))
    };
    match (&schema.schema_kind, default) {
        (SchemaKind::Type(Type::Integer(integer)), serde_json::Value::Number(number)) => {
            let Some(value) = number.as_i64() else {
                return refuse("is not an integer");
            };
            let below = integer.minimum.is_some_and(|minimum| {
                value < minimum || (integer.exclusive_minimum && value == minimum)
            });
            let above = integer.maximum.is_some_and(|maximum| {
                value > maximum || (integer.exclusive_maximum && value == maximum)
            });
            let out_of_format = matches!(
                integer.format,
                VariantOrUnknownOrEmpty::Item(IntegerFormat::Int32)
            ) && i32::try_from(value).is_err();
            if below || above || out_of_format {
                refuse("is outside the schema's range")
            } else {
                Ok(())
            }
        }
        (SchemaKind::Type(Type::Number(number)), serde_json::Value::Number(value)) => {
            let Some(value) = value.as_f64() else {
                return refuse("is not a number");
            };
            let below = number.minimum.is_some_and(|minimum| {
                value < minimum || (number.exclusive_minimum && value == minimum)
            });
            let above = number.maximum.is_some_and(|maximum| {
                value > maximum || (number.exclusive_maximum && value == maximum)
            });
            if below || above {
                refuse("is outside the schema's range")
            } else {
                Ok(())
            }
        }
        (SchemaKind::Type(Type::Boolean(_)), serde_json::Value::Bool(_)) => Ok(()),
        (SchemaKind::Type(Type::String(string)), serde_json::Value::String(value)) => {
            let length = value.chars().count();
            let bad_length = string.min_length.is_some_and(|minimum| length < minimum)
                || string.max_length.is_some_and(|maximum| length > maximum);
            let not_in_enum = !string.enumeration.is_empty()
                && !string.enumeration.contains(&Some(value.clone()));
            let pattern_mismatch = match &string.pattern {
                Some(pattern) => {
                    !regex_lite::Regex::new(pattern).is_ok_and(|regex| regex.is_match(value))
                }
                None => false,
            };
            let has_format = !matches!(string.format, VariantOrUnknownOrEmpty::Empty);
            if bad_length || not_in_enum || pattern_mismatch {
                refuse("breaks the schema's constraints")
            } else if has_format {
                refuse("is on a formatted string, which is not supported")
            } else {
                Ok(())
            }
        }
        _ => refuse("is not supported for this schema"),
    }
}

fn debug_through_inner(ident: &proc_macro2::Ident) -> TokenStream {
    quote! {
        impl ::std::fmt::Debug for #ident {
            fn fmt(&self, formatter: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&self.0, formatter)
            }
        }
    }
}

fn enum_definition(
    ident: &proc_macro2::Ident,
    string: &StringType,
    pointer: &str,
    doc: &TokenStream,
) -> Result<TokenStream, GenerateError> {
    if string.min_length.is_some() || string.max_length.is_some() || string.pattern.is_some() {
        return Err(GenerateError::new(
            pointer,
            "an enum cannot also carry length or pattern constraints",
        ));
    }
    let values = string_enum_values(string, pointer)?;
    let mut variants = Vec::new();
    for value in &values {
        let variant = type_identifier(value, &format!("{pointer}/enum"))?;
        if variants
            .iter()
            .any(|(existing, _): &(proc_macro2::Ident, &String)| *existing == variant)
        {
            return Err(GenerateError::new(
                &format!("{pointer}/enum"),
                format!("two values turn into the same Rust variant `{variant}`"),
            ));
        }
        variants.push((variant, value));
    }
    let declarations = variants
        .iter()
        .map(|(variant, value)| quote!(#[serde(rename = #value)] #variant,));
    let names = variants
        .iter()
        .map(|(variant, value)| quote!(Self::#variant => #value,));
    let all = variants.iter().map(|(variant, _)| quote!(Self::#variant));
    Ok(quote! {
        #doc
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        pub enum #ident {
            #(#declarations)*
        }

        impl #ident {
            /// Every value, in the contract's order.
            pub const ALL: &'static [Self] = &[#(#all),*];

            /// The value as it is written on the wire.
            pub fn as_str(&self) -> &'static str {
                match self {
                    #(#names)*
                }
            }
        }

        impl ::std::fmt::Display for #ident {
            fn fmt(&self, formatter: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                formatter.write_str(self.as_str())
            }
        }
    })
}

fn string_enum_values(string: &StringType, pointer: &str) -> Result<Vec<String>, GenerateError> {
    string
        .enumeration
        .iter()
        .map(|value| {
            value.clone().ok_or_else(|| {
                GenerateError::new(
                    &format!("{pointer}/enum"),
                    "`null` enum values are not supported",
                )
            })
        })
        .collect()
}

fn string_format_name(format: &VariantOrUnknownOrEmpty<StringFormat>) -> Option<String> {
    match format {
        VariantOrUnknownOrEmpty::Empty => None,
        VariantOrUnknownOrEmpty::Item(StringFormat::Date) => Some("date".to_owned()),
        VariantOrUnknownOrEmpty::Item(StringFormat::DateTime) => Some("date-time".to_owned()),
        VariantOrUnknownOrEmpty::Item(StringFormat::Password) => Some("password".to_owned()),
        VariantOrUnknownOrEmpty::Item(StringFormat::Byte) => Some("byte".to_owned()),
        VariantOrUnknownOrEmpty::Item(StringFormat::Binary) => Some("binary".to_owned()),
        VariantOrUnknownOrEmpty::Unknown(format) => Some(format.clone()),
    }
}

fn string_rust_type(string: &StringType, pointer: &str) -> Result<TokenStream, GenerateError> {
    Ok(match &string.format {
        VariantOrUnknownOrEmpty::Empty | VariantOrUnknownOrEmpty::Item(StringFormat::Password) => {
            quote!(::std::string::String)
        }
        VariantOrUnknownOrEmpty::Item(StringFormat::DateTime) => quote!(support::DateTime),
        VariantOrUnknownOrEmpty::Unknown(format) if format == "uuid" => quote!(::uuid::Uuid),
        VariantOrUnknownOrEmpty::Unknown(format) if format == "email" => {
            quote!(::std::string::String)
        }
        other => {
            return Err(GenerateError::new(
                &format!("{pointer}/format"),
                format!(
                    "the string format `{}` is not supported (supported: email, password, uuid, date-time)",
                    string_format_name(other).unwrap_or_default()
                ),
            ));
        }
    })
}

fn integer_rust_type(integer: &IntegerType, pointer: &str) -> Result<TokenStream, GenerateError> {
    if integer.multiple_of.is_some() {
        return Err(GenerateError::new(pointer, "`multipleOf` is not supported"));
    }
    if !integer.enumeration.is_empty() {
        return Err(GenerateError::new(
            pointer,
            "integer enums are not supported",
        ));
    }
    Ok(match &integer.format {
        VariantOrUnknownOrEmpty::Item(IntegerFormat::Int32) => quote!(i32),
        VariantOrUnknownOrEmpty::Item(IntegerFormat::Int64) | VariantOrUnknownOrEmpty::Empty => {
            quote!(i64)
        }
        VariantOrUnknownOrEmpty::Unknown(format) => {
            return Err(GenerateError::new(
                &format!("{pointer}/format"),
                format!("the integer format `{format}` is not supported (supported: int32, int64)"),
            ));
        }
    })
}

fn number_rust_type(number: &NumberType, pointer: &str) -> Result<TokenStream, GenerateError> {
    if number.multiple_of.is_some() {
        return Err(GenerateError::new(pointer, "`multipleOf` is not supported"));
    }
    if !number.enumeration.is_empty() {
        return Err(GenerateError::new(
            pointer,
            "number enums are not supported",
        ));
    }
    Ok(match &number.format {
        VariantOrUnknownOrEmpty::Item(NumberFormat::Float) => quote!(f32),
        VariantOrUnknownOrEmpty::Item(NumberFormat::Double) | VariantOrUnknownOrEmpty::Empty => {
            quote!(f64)
        }
        VariantOrUnknownOrEmpty::Unknown(format) => {
            return Err(GenerateError::new(
                &format!("{pointer}/format"),
                format!("the number format `{format}` is not supported (supported: float, double)"),
            ));
        }
    })
}

fn with_bounds(
    builder: TokenStream,
    minimum: Option<f64>,
    exclusive_minimum: bool,
    maximum: Option<f64>,
    exclusive_maximum: bool,
) -> TokenStream {
    let mut builder = builder;
    if let Some(minimum) = minimum {
        builder = if exclusive_minimum {
            quote!(#builder.exclusive_minimum(#minimum))
        } else {
            quote!(#builder.minimum(#minimum))
        };
    }
    if let Some(maximum) = maximum {
        builder = if exclusive_maximum {
            quote!(#builder.exclusive_maximum(#maximum))
        } else {
            quote!(#builder.maximum(#maximum))
        };
    }
    builder
}

fn unsupported_kind(kind: &SchemaKind, pointer: &str) -> GenerateError {
    let what = match kind {
        SchemaKind::OneOf { .. } => "`oneOf`",
        SchemaKind::AllOf { .. } => "`allOf`",
        SchemaKind::AnyOf { .. } => "`anyOf`",
        SchemaKind::Not { .. } => "`not`",
        SchemaKind::Any(_) => "a schema without a single `type`",
        SchemaKind::Type(_) => "this type",
    };
    GenerateError::new(pointer, format!("{what} is not supported"))
}

pub fn doc_attribute(text: Option<&str>) -> TokenStream {
    match text {
        Some(text) => {
            let lines = text.lines().map(|line| format!(" {line}"));
            quote!(#(#[doc = #lines])*)
        }
        None => quote!(),
    }
}

/// Writes a JSON value as the body of a `serde_json::json!` invocation.
pub fn json_tokens(value: &serde_json::Value) -> TokenStream {
    match value {
        serde_json::Value::Null => quote!(null),
        serde_json::Value::Bool(value) => quote!(#value),
        serde_json::Value::Number(number) => {
            if let Some(value) = number.as_i64() {
                quote!(#value)
            } else if let Some(value) = number.as_u64() {
                quote!(#value)
            } else {
                let value = number.as_f64().unwrap_or_default();
                quote!(#value)
            }
        }
        serde_json::Value::String(value) => quote!(#value),
        serde_json::Value::Array(values) => {
            let values = values.iter().map(json_tokens);
            quote!([#(#values),*])
        }
        serde_json::Value::Object(entries) => {
            let entries = entries.iter().map(|(key, value)| {
                let value = json_tokens(value);
                quote!(#key: #value)
            });
            quote!({#(#entries),*})
        }
    }
}
